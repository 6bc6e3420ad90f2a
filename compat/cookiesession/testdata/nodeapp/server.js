// The Express half of the compat/cookiesession interop tests:
// cookie-session and Passport with passport-local. Configured by
// environment variables:
//
//   PORT     port to listen on (127.0.0.1)
//   KEYS     JSON array of keys, the first signs
//   MAX_AGE  maxAge in ms ("" for a browser-session cookie)
//   NAME     the cookie name (default "session")
//   KEYGRIP  a Keygrip algorithm ("sha256"): keys is new Keygrip(KEYS, KEYGRIP)
//
// It prints "listening" once it serves requests.
'use strict';

const express = require('express');
const cookieSession = require('cookie-session');
const passport = require('passport');
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

const app = express();
const keys = JSON.parse(process.env.KEYS);
const opts = { keys: process.env.KEYGRIP ? new (require('keygrip'))(keys, process.env.KEYGRIP) : keys, sameSite: 'lax' };
if (process.env.MAX_AGE) opts.maxAge = Number(process.env.MAX_AGE);
if (process.env.NAME) opts.name = process.env.NAME;
app.use(cookieSession(opts));
// Passport 0.7 calls req.session.regenerate and req.session.save, which
// cookie-session's session lacks: the no-op shim of
// docs/migrating-from-express.md, section 6, verbatim (the properties are
// not enumerable, so they stay out of the session's keys).
app.use((req, res, next) => {
  if (req.session && !req.session.regenerate) {
    Object.defineProperty(req.session, 'regenerate', { value: (cb) => cb() });
    Object.defineProperty(req.session, 'save', { value: (cb) => cb() });
  }
  next();
});
app.use(passport.session());

app.get('/whoami', (req, res) => {
  res.json({ user: req.user ? req.user.name : null, session: req.session });
});
// The session as cookie-session would write it now.
app.get('/raw', (req, res) => {
  res.json({ raw: JSON.stringify(req.session) });
});
app.post('/login', passport.authenticate('local', { failWithError: true }), (req, res) => {
  res.json({ user: req.user.name });
});
app.post('/logout', (req, res, next) => {
  req.logout((err) => (err ? next(err) : res.json({ ok: true })));
});
app.post('/destroy', (req, res) => {
  req.session = null;
  res.json({ ok: true });
});
// /set?k=name&v=<JSON>[&ms=<maxAge for this response>]
app.post('/set', (req, res) => {
  if (req.query.ms) req.sessionOptions.maxAge = Number(req.query.ms);
  req.session[req.query.k] = JSON.parse(req.query.v);
  res.json({ ok: true });
});
app.get('/get', (req, res) => {
  res.json({ value: req.session[req.query.k] === undefined ? null : req.session[req.query.k] });
});
app.use((err, req, res, next) => {
  res.status(err.status || 500).json({ error: String(err.message || err) });
});

const server = app.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
