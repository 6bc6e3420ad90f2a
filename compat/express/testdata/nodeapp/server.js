// The Express half of the compat/express interop tests: express-session
// with connect-redis, connect-pg-simple or connect-mongo, and Passport with
// passport-local. Configured by environment variables:
//
//   PORT        port to listen on (127.0.0.1)
//   STORE       redis | pg | mongo
//   STORE_URL   the store's URL
//   STORE_NAME  key prefix (redis), table (pg) or collection (mongo)
//   SECRETS     JSON array of session secrets, the first signs (null
//               stands for undefined, an unset environment variable)
//   MAX_AGE     cookie maxAge in ms ("" for a browser-session cookie)
//   ROLLING     "true" for rolling: true
//   SAME_SITE   cookie.sameSite (default lax; "none-set" leaves it unset)
//   NAME        the cookie name (default connect.sid)
//   SERIALIZE   "string" for a serializeUser that stores String(user.id),
//               with a deserializeUser that finds users by that string only;
//               "object" for one that stores {id: user.id}
//
// It prints "listening" once it serves requests.
'use strict';

const express = require('express');
const session = require('express-session');
const passport = require('passport');
const flash = require('connect-flash');
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
if (process.env.SERIALIZE === 'object') {
  passport.serializeUser((user, done) => done(null, { id: user.id }));
  passport.deserializeUser((obj, done) => done(null, users.get(obj && obj.id) || false));
} else if (process.env.SERIALIZE === 'string') {
  const byString = new Map([...users].map(([id, u]) => [String(id), u]));
  passport.serializeUser((user, done) => done(null, String(user.id)));
  passport.deserializeUser((id, done) => done(null, byString.get(id) || false));
} else {
  passport.serializeUser((user, done) => done(null, user.id));
  passport.deserializeUser((id, done) => done(null, users.get(id) || false));
}

async function makeStore() {
  const url = process.env.STORE_URL;
  const name = process.env.STORE_NAME;
  switch (process.env.STORE) {
    case 'redis': {
      const { createClient } = require('redis');
      const { RedisStore } = require('connect-redis');
      const client = createClient({ url });
      await client.connect();
      return new RedisStore({ client, prefix: name || 'sess:' });
    }
    case 'pg': {
      const PgStore = require('connect-pg-simple')(session);
      return new PgStore({ conString: url, tableName: name || 'session', pruneSessionInterval: false });
    }
    case 'mongo': {
      const { MongoStore } = require('connect-mongo');
      // FerretDB v1 has no TTL indexes: expired sessions are filtered
      // on read and removed by the Go side's sweeper instead.
      return MongoStore.create({ mongoUrl: url, collectionName: name || 'sessions', autoRemove: 'disabled' });
    }
  }
  throw new Error('STORE must be redis, pg or mongo');
}

async function main() {
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  const maxAge = process.env.MAX_AGE ? Number(process.env.MAX_AGE) : null;
  app.use(session({
    store: await makeStore(),
    name: process.env.NAME || 'connect.sid',
    secret: JSON.parse(process.env.SECRETS).map((s) => (s === null ? undefined : s)),
    resave: false,
    saveUninitialized: false,
    rolling: process.env.ROLLING === 'true',
    cookie: process.env.SAME_SITE === 'none-set' ? { maxAge } : { maxAge, sameSite: process.env.SAME_SITE || 'lax' },
  }));
  app.use(passport.session());
  app.use(flash());

  app.get('/whoami', (req, res) => {
    res.json({ user: req.user ? req.user.name : null, id: req.sessionID, session: req.session });
  });
  // The session as express-session would store it now.
  app.get('/raw', (req, res) => {
    res.json({ id: req.sessionID, raw: JSON.stringify(req.session) });
  });
  app.post('/login', passport.authenticate('local', { failWithError: true }), (req, res) => {
    res.json({ user: req.user.name, id: req.sessionID });
  });
  app.post('/logout', (req, res, next) => {
    req.logout((err) => (err ? next(err) : res.json({ ok: true })));
  });
  app.post('/destroy', (req, res, next) => {
    req.session.destroy((err) => (err ? next(err) : res.json({ ok: true })));
  });
  // /maxage?ms=<number|null>: this session's cookie.maxAge, as a
  // "remember me" login sets it. A cookie change alone does not mark the
  // session modified, so it is saved explicitly, as apps must.
  app.post('/maxage', (req, res, next) => {
    req.session.cookie.maxAge = req.query.ms === 'null' ? null : Number(req.query.ms);
    req.session.save((err) => (err ? next(err) : res.json({ ok: true, cookie: req.session.cookie })));
  });
  // /set?k=name&v=<JSON>
  app.post('/set', (req, res) => {
    req.session[req.query.k] = JSON.parse(req.query.v);
    res.json({ ok: true });
  });
  // /setdate?k=name&ms=<epoch ms>: a Date value.
  app.post('/setdate', (req, res) => {
    req.session[req.query.k] = new Date(Number(req.query.ms));
    res.json({ ok: true });
  });
  // /flash?type=&msg=: req.flash(type, msg) (connect-flash).
  app.post('/flash', (req, res) => {
    req.flash(req.query.type, req.query.msg);
    res.json({ ok: true });
  });
  // /flashes[?type=]: req.flash(type), or req.flash() for all kinds.
  app.get('/flashes', (req, res) => {
    res.json({ flashes: req.query.type ? req.flash(req.query.type) : req.flash() });
  });
  app.get('/get', (req, res) => {
    res.json({ value: req.session[req.query.k] === undefined ? null : req.session[req.query.k] });
  });
  app.use((err, req, res, next) => {
    res.status(err.status || 500).json({ error: String(err.message || err) });
  });

  const server = app.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
