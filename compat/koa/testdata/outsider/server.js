// The Koa app of compat/koa's outside-in tests (outsider_test.go), set up
// as docs/migrating-from-koa.md shows a user's: koa-session in cookie
// mode (section 2, its options as the guide writes them: no sameSite) and
// koa-passport, or koa-generic-session with koa-redis (section 4). It runs
// with the packages of testdata/nodeapp (SESSIONKIT_KOA_NODE_MODULES;
// keygrip comes with koa's cookies). Configured by environment variables:
//
//   PORT    port to listen on (127.0.0.1)
//   KEYS    JSON array of app.keys, the first signs
//   ALG     Keygrip's algorithm: app.keys = new Keygrip(KEYS, ALG) if set
//   MODE    "generic" for koa-generic-session (default: koa-session's
//           cookie mode)
//   REDIS   koa-redis's url (generic mode)
//   PREFIX  koa-generic-session's prefix (generic mode)
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
const generic = process.env.MODE === 'generic';
if (generic) {
  const genericSession = require('koa-generic-session');
  const redisStore = require('koa-redis');
  app.use(genericSession({ store: redisStore({ url: process.env.REDIS }), prefix: process.env.PREFIX, cookie: { maxAge: 3600000 } }));
} else {
  app.use(session({ maxAge: 7 * 86400000 }, app));
  app.use(passport.initialize());
  app.use(passport.session());
}

app.use(async (ctx) => {
  const q = ctx.query;
  switch (ctx.method + ' ' + ctx.path) {
    case 'GET /whoami':
      ctx.body = { user: ctx.state.user ? ctx.state.user.name : null };
      return;
    // /expires?ms=<Unix ms>: this session's cookie.expires (generic mode).
    case 'POST /expires':
      ctx.session.cookie.expires = new Date(Number(q.ms));
      ctx.body = { ok: true };
      return;
    // The session's cookie object (generic mode), expires in Unix ms.
    case 'GET /cookie': {
      const c = ctx.session.cookie;
      ctx.body = { maxAge: c.maxAge === undefined ? null : c.maxAge, expires: c.expires ? new Date(c.expires).getTime() : null };
      return;
    }
    case 'POST /login':
      await ctx.login(users.get(Number(q.id)));
      ctx.body = { ok: true };
      return;
    case 'POST /logout':
      await ctx.logout();
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
