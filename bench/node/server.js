// express-session targets of sessionkit's cross-library benchmark. It serves
// the same routes as bench/cmd/server (see there) with express-session's
// defaults apart from resave: false and saveUninitialized: false, which its
// documentation recommends.
//
//   node server.js --target express-mem|express-redis [--redis URL] [--prefix P]
//
// It prints "listening 127.0.0.1:PORT" once it accepts connections.
import express from "express";
import session from "express-session";
import { RedisStore } from "connect-redis";
import { createClient } from "redis";

function flag(name, fallback) {
  const i = process.argv.indexOf("--" + name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const target = flag("target", "express-mem");
const prefix = flag("prefix", "bench" + Date.now());
let store;
if (target === "express-redis") {
  const client = createClient({ url: flag("redis", process.env.SESSIONKIT_REDIS_URL) });
  client.on("error", (err) => console.error("redis:", err.message));
  await client.connect();
  store = new RedisStore({ client, prefix: prefix + ":express:" });
} else if (target === "express-mem") {
  store = new session.MemoryStore();
} else {
  console.error("unknown --target " + target);
  process.exit(2);
}

let requests = 0;
const app = express();
app.disable("x-powered-by");
app.get("/debug/stats", (req, res) => res.json({ mallocs: 0, requests }));
app.use((req, res, next) => { requests++; next(); });
app.use(session({
  store,
  secret: "sessionkit-bench-secret-0123456789",
  resave: false,
  saveUninitialized: false,
  cookie: { httpOnly: true },
}));
app.get("/read", (req, res) => res.send(String(req.session.n || 0)));
app.get("/write", (req, res) => {
  req.session.n = (req.session.n || 0) + 1;
  res.send(String(req.session.n));
});
app.get("/set", (req, res) => {
  req.session[String(req.query.k)] = 1;
  res.send("ok");
});
app.get("/count", (req, res) => {
  res.send(String(Object.keys(req.session).filter((k) => k.startsWith("k")).length));
});

const server = app.listen(Number(flag("port", "0")), "127.0.0.1", () => {
  const a = server.address();
  console.log(`listening ${a.address}:${a.port}`);
});
server.keepAliveTimeout = 60000;
const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
