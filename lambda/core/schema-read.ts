import type { Caller } from './caller';
import { type CedarModel, discoveryRequest } from './cedar-request';
import type { PolicyDecisionPoint } from './decision';

/**
 * Who may see every tool a gateway lists, unfiltered, to regenerate the schema from it
 * (`mcp-identity schema generate --from-url`): tools with no schema entry yet and tools whose pinned definition
 * drifted are hidden from everyone else, so without this the command could not see what it is meant to add or
 * review. Decided by policy, like everything else: a permit on this action (declared in the schema stub), for
 * an operator role whose tokens agents do not use — the point of hiding those tools is that no model reads
 * them before a person has. Listing only: calls are still decided tool by tool.
 */
export const SCHEMA_READ_ACTION = 'schema/read';

/** Whether policy lets the caller list every tool unfiltered. Any failure is a no (fail closed). */
export async function mayReadSchema(
  caller: Caller,
  pdp: PolicyDecisionPoint,
  model: CedarModel,
): Promise<boolean> {
  try {
    const answer = await pdp.isAuthorized(discoveryRequest(caller, SCHEMA_READ_ACTION, model));
    return answer.decision === 'allow' && answer.errors.length === 0;
  } catch {
    return false;
  }
}
