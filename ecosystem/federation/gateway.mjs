// @apollo/gateway over a composed supergraph: `node gateway.mjs SUPERGRAPH.graphql`.
// Each subgraph's URL comes from the supergraph (join__graph). The client's Authorization header
// (and x-request-id, so our logs correlate) is forwarded to every subgraph call, `_entities`
// included: the gateway decides nothing about access, each subgraph does. Listens on 127.0.0.1
// (PORT, default a free port) and prints one JSON line {"ready": "<url>"}.
import { readFileSync } from "node:fs";
import { ApolloGateway, RemoteGraphQLDataSource } from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";

const FORWARDED = ["authorization", "x-request-id"];

class ForwardingDataSource extends RemoteGraphQLDataSource {
  willSendRequest({ request, context }) {
    for (const name of FORWARDED) {
      if (context.headers?.[name]) request.http.headers.set(name, context.headers[name]);
    }
  }
}

const gateway = new ApolloGateway({
  supergraphSdl: readFileSync(process.argv[2], "utf8"),
  buildService: ({ url }) => new ForwardingDataSource({ url }),
});
// Production-shaped errors: codes and messages, no gateway stack traces.
const server = new ApolloServer({ gateway, includeStacktraceInErrorResponses: false });
const { url } = await startStandaloneServer(server, {
  listen: { host: "127.0.0.1", port: Number(process.env.PORT ?? 0) },
  context: async ({ req }) => ({
    headers: Object.fromEntries(FORWARDED.map((name) => [name, req.headers[name]])),
  }),
});
console.log(JSON.stringify({ ready: url }));
