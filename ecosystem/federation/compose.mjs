// Composes subgraphs into a supergraph with @apollo/composition (what `rover supergraph compose`
// does): `node compose.mjs OUT.graphql NAME URL SDL.graphql [NAME URL SDL.graphql ...]`.
// Writes the supergraph SDL to OUT; prints composition errors and exits 1 when it fails, and
// prints the hints (advice, not failures) on stderr.
import { readFileSync, writeFileSync } from "node:fs";
import { composeServices } from "@apollo/composition";
import { parse } from "graphql";

const [out, ...rest] = process.argv.slice(2);
if (!out || rest.length === 0 || rest.length % 3 !== 0) {
  console.error("usage: node compose.mjs OUT.graphql NAME URL SDL.graphql [NAME URL SDL.graphql ...]");
  process.exit(2);
}
const services = [];
for (let i = 0; i < rest.length; i += 3) {
  services.push({ name: rest[i], url: rest[i + 1], typeDefs: parse(readFileSync(rest[i + 2], "utf8")) });
}
const result = composeServices(services);
if (result.errors) {
  for (const error of result.errors) console.error(`composition error: ${error.message}`);
  process.exit(1);
}
for (const hint of result.hints ?? []) console.error(`hint: ${hint.toString()}`);
writeFileSync(out, result.supergraphSdl);
console.log(JSON.stringify({ supergraph: out, subgraphs: services.map((s) => s.name) }));
