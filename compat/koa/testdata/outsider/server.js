// The Koa app of compat/koa's outside-in tests (outsider_test.go), set up
// as docs/migrating-from-koa.md section 2 shows a user's: koa-session in
// cookie mode, its options as the guide writes them (no sameSite), and
// koa-passport. It runs with the packages of testdata/nodeapp
// (SESSIONKIT_KOA_NODE_MODULES; keygrip comes with koa's cookies).
// Configured by environment variables:
//
//   PORT   port to listen on (127.0.0.1)
//   KEYS   JSON array of app.keys, the first signs
//   ALG    Keygrip's algorithm: app.keys = new Keygrip(KEYS, ALG) if set
//
// It prints "listening" once it serves requests.
'use strict';

const Koa = require('koa');
const Keygrip = require('keygrip');
const passport = require('koa-passport');
const session = require('koa-session').createSession;

const users = new Map([[1, { id: 1, name: 'ann' }]]);
passport.serializeUser((user, done) => done(null, user.id));
passport.deserializeUser((id, done) => done(null, users.get(id) || false));

const app = new Koa();
const keys = JSON.parse(process.env.KEYS);
app.keys = process.env.ALG ? new Keygrip(keys, process.env.ALG) : keys;
app.on('error', (err) => console.error('koa error:', err));
app.use(session({ maxAge: 7 * 86400000 }, app));
app.use(passport.initialize());
app.use(passport.session());

app.use(async (ctx) => {
  const q = ctx.query;
  switch (ctx.method + ' ' + ctx.path) {
    case 'GET /whoami':
      ctx.body = { user: ctx.state.user ? ctx.state.user.name : null };
      return;
    case 'POST /login':
      await ctx.login(users.get(Number(q.id)));
      ctx.body = { ok: true };
      return;
    // /set?k=name&v=<JSON>
    case 'POST /set':
      ctx.session[q.k] = JSON.parse(q.v);
      ctx.body = { ok: true };
      return;
    case 'GET /get': {
      const v = ctx.session[q.k];
      ctx.body = { value: v === undefined ? null : v };
      return;
    }
    // /sign?data=...: the signature app.keys gives data.
    case 'GET /sign':
      ctx.body = { sig: (Array.isArray(app.keys) ? new Keygrip(app.keys) : app.keys).sign(q.data) };
      return;
  }
  ctx.status = 404;
});

const server = app.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
