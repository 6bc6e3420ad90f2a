// The Koa half of the compat/koa interop tests: koa-session in cookie mode
// or with koa-redis as its external store, or koa-generic-session with
// koa-redis, and koa-passport with passport-local. Configured by
// environment variables:
//
//   PORT     port to listen on (127.0.0.1)
//   MODE     cookie | store | generic
//   KEYS     JSON array of app.keys, the first signs
//   MAX_AGE  maxAge in ms, or "session" (koa-session); cookie.maxAge in ms,
//            or "null" (koa-generic-session)
//   ROLLING  "1" for rolling: true
//   RENEW    "1" for renew: true (koa-session)
//   PREFIX   koa-session's prefix (store mode), koa-generic-session's
//            prefix (generic mode)
//   REDIS    JSON options for koa-redis: {"url": ...}, {"sentinels": [...],
//            "name": ...} or {"isRedisCluster": true, "nodes": [...]}
//
// It prints "listening" once it serves requests.
'use strict';

const Koa = require('koa');
const passport = require('koa-passport');
const LocalStrategy = require('passport-local').Strategy;

const users = new Map([
  [0, { id: 0, name: 'zero', password: 'pw0' }],
  [1, { id: 1, name: 'ann', password: 'pw1' }],
  [2, { id: 2, name: 'bob', password: 'pw2' }],
]);

passport.use(new LocalStrategy((username, password, done) => {
  for (const u of users.values()) {
    if (u.name === username && u.password === password) return done(null, u);
  }
  return done(null, false);
}));
passport.serializeUser((user, done) => done(null, user.id));
passport.deserializeUser((id, done) => done(null, users.get(id) || false));

const mode = process.env.MODE;
const generic = mode === 'generic';

function maxAgeOption() {
  const v = process.env.MAX_AGE;
  if (v === undefined || v === '') return undefined;
  if (v === 'session') return 'session';
  if (v === 'null') return null;
  return Number(v);
}

function redisStore() {
  const RedisStore = require('koa-redis');
  const opts = JSON.parse(process.env.REDIS);
  if (opts.url) return new RedisStore({ url: opts.url });
  return new RedisStore(opts);
}

// What the session holds, as its middleware would store it now.
function sessionJSON(ctx) {
  if (!ctx.session) return null;
  return generic ? JSON.parse(JSON.stringify(ctx.session)) : ctx.session.toJSON();
}

async function main() {
  const app = new Koa();
  app.keys = JSON.parse(process.env.KEYS);
  app.on('error', (err) => console.error('koa error:', err));
  const rolling = process.env.ROLLING === '1';

  if (generic) {
    const session = require('koa-generic-session');
    const cookie = { sameSite: 'lax' };
    const maxAge = maxAgeOption();
    if (maxAge !== undefined) cookie.maxAge = maxAge;
    app.use(session({ store: redisStore(), prefix: process.env.PREFIX || undefined, rolling, cookie }));
    // Passport 0.7 calls req.session.regenerate and req.session.save,
    // which koa-generic-session's plain session object lacks: the usual
    // shim, through ctx.regenerateSession.
    app.use(async (ctx, next) => {
      const shim = () => {
        const s = ctx.session;
        if (!s || s.regenerate) return;
        Object.defineProperty(s, 'regenerate', {
          configurable: true,
          value: (cb) => ctx.regenerateSession().then(() => { shim(); cb(); }, cb),
        });
        Object.defineProperty(s, 'save', { configurable: true, value: (cb) => cb() });
      };
      shim();
      await next();
    });
  } else {
    const ks = require('koa-session');
    const session = ks.createSession || ks.default || ks; // 7.x exports createSession
    const opts = { rolling, renew: process.env.RENEW === '1', sameSite: 'lax' };
    const maxAge = maxAgeOption();
    if (maxAge !== undefined) opts.maxAge = maxAge;
    if (mode === 'store') {
      opts.store = redisStore();
      if (process.env.PREFIX) opts.prefix = process.env.PREFIX;
    } else if (mode !== 'cookie') {
      throw new Error('MODE must be cookie, store or generic');
    }
    app.use(session(opts, app));
  }
  app.use(passport.initialize());
  app.use(passport.session());

  const login = passport.authenticate('local');
  app.use(async (ctx, next) => {
    const q = ctx.query;
    const route = ctx.method + ' ' + ctx.path;
    switch (route) {
      case 'GET /whoami':
        ctx.body = {
          user: ctx.state.user ? ctx.state.user.name : null,
          id: generic ? ctx.sessionId : (ctx.session && ctx.session.externalKey) || null,
          session: sessionJSON(ctx),
          maxAge: generic ? (ctx.session && ctx.session.cookie ? ctx.session.cookie.maxAge : null) : ctx.session.maxAge,
        };
        return;
      // The session as its middleware would store it now (without
      // koa-session's _expire and _maxAge).
      case 'GET /raw':
        ctx.body = { raw: JSON.stringify(sessionJSON(ctx)) };
        return;
      case 'POST /login':
        ctx.request.body = {};
        await login(ctx, async () => {
          ctx.body = { user: ctx.state.user.name };
        });
        if (!ctx.state.user) ctx.status = 401;
        return;
      case 'POST /logout':
        await ctx.logout();
        ctx.body = { ok: true };
        return;
      case 'POST /destroy':
        ctx.session = null;
        ctx.body = { ok: true };
        return;
      // /set?k=name&v=<JSON>
      case 'POST /set':
        ctx.session[q.k] = JSON.parse(q.v);
        ctx.body = { ok: true };
        return;
      case 'GET /get': {
        const v = ctx.session ? ctx.session[q.k] : undefined;
        ctx.body = { value: v === undefined ? null : v };
        return;
      }
      // /maxage?ms=<number|session|null>: this session's maxAge.
      case 'POST /maxage': {
        const v = q.ms === 'session' ? 'session' : q.ms === 'null' ? null : Number(q.ms);
        if (generic) ctx.session.cookie.maxAge = v;
        else ctx.session.maxAge = v;
        ctx.body = { ok: true };
        return;
      }
    }
    await next();
  });

  const server = app.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
