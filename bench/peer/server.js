// The benchmark peer (make bench-peer, bench/peer.py): PostGraphile v4 serving the bench database.
// A benchmark tool only, never a dependency of the product.
//
// Connection: the PG* environment variables (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD) of
// the owner (postgres), schema `public`. Every request runs in a transaction that sets, as
// transaction-local settings (PostGraphile's pgSettings -> set_config(…, true)), the role
// `PEER_ROLE` (cockpit_app: the same non-owner, non-BYPASSRLS role our server runs as) and
// `app.account_id` = `PEER_ACCOUNT_ID`, so PostGraphile reads the tenant tables through the same
// FORCEd row-level security policy as our server does, for the same account.
//
// Endpoints: POST /graphql; GET /healthz. Every response of /graphql carries `x-sql-statements`:
// the statements this request sent to PostgreSQL, BEGIN/COMMIT/ROLLBACK not counted (our server's
// header does not count them either).
"use strict";

const http = require("node:http");
const { AsyncLocalStorage } = require("node:async_hooks");
const { Pool } = require("pg");
const { postgraphile } = require("postgraphile");

const port = Number(process.env.PEER_PORT || 5055);
const host = process.env.PEER_HOST || "127.0.0.1";
const accountId = process.env.PEER_ACCOUNT_ID;
const role = process.env.PEER_ROLE || "cockpit_app";
const poolSize = Number(process.env.PEER_POOL_SIZE || 10);
if (!accountId) {
  console.error("PEER_ACCOUNT_ID is required (the bench account's id)");
  process.exit(2);
}

const requests = new AsyncLocalStorage();
const TRANSACTION_CONTROL = /^\s*(begin|commit|rollback|start transaction)\b/i;

const pool = new Pool({ max: poolSize });
pool.on("connect", (client) => {
  const query = client.query;
  client.query = function countedQuery(config, ...rest) {
    const store = requests.getStore();
    const text = typeof config === "string" ? config : config && config.text;
    if (store && !(typeof text === "string" && TRANSACTION_CONTROL.test(text))) {
      store.statements += 1;
    }
    return query.call(this, config, ...rest);
  };
});

const middleware = postgraphile(pool, "public", {
  pgSettings: { role, "app.account_id": accountId },
  graphiql: false,
  enableQueryBatching: false,
  disableQueryLog: true,
  watchPg: false,
  retryOnInitFail: false,
  setofFunctionsContainNulls: false,
  legacyRelations: "omit",
  extendedErrors: ["errcode"],
});

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/healthz") {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok");
    return;
  }
  const store = { statements: 0 };
  const writeHead = res.writeHead;
  res.writeHead = function writeHeadWithCount(...args) {
    if (!res.headersSent) res.setHeader("x-sql-statements", String(store.statements));
    return writeHead.apply(this, args);
  };
  requests.run(store, () => middleware(req, res));
});
server.keepAliveTimeout = 5000; // as uvicorn's --timeout-keep-alive
server.listen(port, host, () => {
  console.log(`postgraphile ${require("postgraphile/package.json").version} on http://${host}:${port}/graphql`);
});

function stop() {
  server.close(() => pool.end().then(() => process.exit(0)));
  setTimeout(() => process.exit(0), 5000).unref();
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
