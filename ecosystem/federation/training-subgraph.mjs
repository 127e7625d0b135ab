// The second subgraph (training.graphql): `node training-subgraph.mjs RECORDS.json`.
// RECORDS.json: {"users": {"<User id>": true|false}, "agents": {"<Agent id>": 4.5}}; entities are
// resolved from their key alone. Listens on 127.0.0.1 (PORT, default a free port) and prints one
// JSON line {"ready": "<url>"} when it accepts requests.
import { readFileSync } from "node:fs";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { buildSubgraphSchema } from "@apollo/subgraph";
import { parse } from "graphql";

const records = JSON.parse(readFileSync(process.argv[2], "utf8"));
const typeDefs = parse(readFileSync(new URL("./training.graphql", import.meta.url), "utf8"));

const resolvers = {
  Query: {
    trainingRoster: () => Object.keys(records.users ?? {}).map((id) => ({ id })),
  },
  User: {
    __resolveReference: ({ id }) => ({ id }),
    trainingCompleted: ({ id }) => records.users?.[id] ?? false,
  },
  Agent: {
    __resolveReference: ({ id }) => ({ id }),
    rating: ({ id }) => records.agents?.[id] ?? null,
  },
};

const server = new ApolloServer({ schema: buildSubgraphSchema([{ typeDefs, resolvers }]) });
const { url } = await startStandaloneServer(server, {
  listen: { host: "127.0.0.1", port: Number(process.env.PORT ?? 0) },
});
console.log(JSON.stringify({ ready: url }));
