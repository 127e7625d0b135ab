// Type-checks the generated types against how a client uses them (`make clients` runs
// `tsc --noEmit` on this file; docs/clients.md shows the same pattern).
import type {
  AuthorizeUsageMutation,
  AuthorizeUsageMutationVariables,
  DirectoryPageQuery,
  DirectoryPageQueryVariables,
  MembersQuery,
  RecordUsageBatchMutationVariables,
  RecordUsageMutation,
  RecordUsageMutationVariables,
  RuntimeAccessQuery,
  RuntimeAccessQueryVariables,
  UserErrorFieldsFragment,
} from "../../build/clients/typescript/operations";
import type { User } from "../../build/clients/typescript/schema";

type GraphQLResponse<T> = { data?: T | null; errors?: Array<{ message: string; extensions?: { code?: string } }> };

/** One typed call: the operation's text, its variables, its result. */
export async function execute<TResult, TVariables>(
  endpoint: string,
  token: string,
  query: string,
  variables: TVariables,
): Promise<TResult> {
  const response = await fetch(endpoint, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as GraphQLResponse<TResult>;
  if (body.errors?.length || !body.data) {
    throw new Error(body.errors?.map((e) => `${e.extensions?.code ?? "ERROR"}: ${e.message}`).join("; "));
  }
  return body.data;
}

/** userErrors are data, not exceptions: an empty list means the change was made. */
export function raiseUserErrors(errors: ReadonlyArray<UserErrorFieldsFragment>): void {
  if (errors.length > 0) {
    throw new Error(errors.map((e) => `${(e.field ?? []).join(".")}: ${e.code} ${e.message}`).join("; "));
  }
}

/** Pages through the directory with the connection's cursor. */
export async function allOrganizations(endpoint: string, token: string, query: string): Promise<string[]> {
  const names: string[] = [];
  let after: string | null = null;
  for (;;) {
    const variables: DirectoryPageQueryVariables = { first: 50, after };
    const page: DirectoryPageQuery = await execute(endpoint, token, query, variables);
    const organizations = page.viewer.account?.organizations;
    if (!organizations) return names;
    names.push(...organizations.nodes.map((o) => `${o.name} (${o.teams.totalCount} teams)`));
    if (!organizations.pageInfo.hasNextPage) return names;
    after = organizations.pageInfo.endCursor;
  }
}

export function remainingByMember(members: MembersQuery): Map<string, string | null> {
  const users = members.viewer.account?.users.nodes ?? [];
  return new Map(users.map((u) => [u.email, u.effectiveAllocation?.remaining ?? null]));
}

/** The runtime's sequence: ask, hold, record. Decimals travel as strings. */
export async function runtimeCall(endpoint: string, token: string, ops: Record<string, string>, userId: string) {
  const ask: RuntimeAccessQueryVariables = { userId };
  const access: RuntimeAccessQuery = await execute(endpoint, token, ops.RuntimeAccess!, ask);
  if (!access.effectiveAccess?.allowed) return access.effectiveAccess?.reasons ?? [];
  const hold: AuthorizeUsageMutationVariables = { input: { userId, estimatedCredits: "5" } };
  const held: AuthorizeUsageMutation = await execute(endpoint, token, ops.AuthorizeUsage!, hold);
  raiseUserErrors(held.authorizeUsage.userErrors);
  const reservationId = held.authorizeUsage.authorization?.reservation?.id ?? null;
  const record: RecordUsageMutationVariables = {
    input: { idempotencyKey: "call-1", userId, costUsd: "0.0125", modelId: access.effectiveAccess.model?.id ?? null, reservationId },
  };
  const recorded: RecordUsageMutation = await execute(endpoint, token, ops.RecordUsage!, record);
  raiseUserErrors(recorded.recordUsage.userErrors);
  const batch: RecordUsageBatchMutationVariables = { input: { events: [{ idempotencyKey: "call-2", userId, costUsd: "0.5" }] } };
  void batch;
  return recorded.recordUsage.result?.event.credits;
}

/** The schema's own types (the typescript plugin's output) describe whole objects. */
export function label(user: Pick<User, "displayName" | "email">): string {
  return `${user.displayName} <${user.email}>`;
}
