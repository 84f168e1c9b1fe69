import { authorizeOperation, visibleListings } from '../core/authorize';
import type { Caller } from '../core/caller';
import { AuditWriteError } from '../core/errors';
import { filterListings, type Listed, listedIn, type Visible } from '../core/listings';
import { type McpOperation, methodOf, parseMcpRequest } from '../core/mcp-operation';
import { decodeResponseMessages, encodeResponseMessages, readableMessages } from '../core/response-messages';
import { mayReadSchema } from '../core/schema-read';
import { responseFailed, UNEXPECTED_FAILURE, uncheckableListing } from './answers';
import {
  type AuditedFacts,
  auditedFacts,
  baseRecord,
  operationRecord,
  refusedCredentialRecord,
} from './audit-records';
import type { AuditTrail } from './audit-trail';
import type { Verification } from './authenticate';
import type { GuardDeps } from './deps';
import { gateHidden, gateRefusal } from './gates';
import { boundedMessage, idIn, isRecord } from './message';
import type { Credential, GuardResponse, ResponseResult } from './types';

/**
 * Tools whose results list other tools: AgentCore Gateway's built-in semantic search. Filtered at every door:
 * filtering a result is never a leak, and a server behind another door could expose the same name.
 */
const SEARCH_TOOLS: ReadonlySet<string> = new Set(['x_amz_bedrock_agentcore_search']);

export interface ResponseStepContext {
  readonly deps: GuardDeps;
  readonly trail: AuditTrail;
  readonly verify: (credential: Credential, id: ReturnType<typeof idIn>) => Promise<Verification>;
  readonly newId: () => string;
}

type Listing = Listed & { readonly unreadable: boolean };

/**
 * The RESPONSE step. Filtering is decided by what the response *is*, not by what the request claimed to be:
 * anything that lists tools, prompts or resources — in a JSON body, a batch or SSE events, a tool list inside a
 * search tool's result, tool names in an error's data — is filtered for a verified caller with the predicate
 * that gates calls, or refused. The outcome of a `tools/call` is audited. JSON-RPC errors pass.
 */
export function createResponseStep(
  context: ResponseStepContext,
): (response: GuardResponse) => Promise<ResponseResult> {
  const { deps, trail, verify, newId } = context;
  const { pdp, log, settings } = deps;
  const gates = deps.gates ?? [];

  async function check(input: GuardResponse): Promise<ResponseResult> {
    const request = boundedMessage(input.request).message;
    const parsed = input.request === undefined ? undefined : parseMcpRequest(request);
    const operation = parsed?.ok ? parsed.operation : undefined;
    const searchResult = operation?.kind === 'tool-call' && SEARCH_TOOLS.has(operation.tool.full);
    const facts = auditedFacts(input.facts, trail.scrub, input.door);
    // Verified at most once per step, and only when something needs the caller.
    let verification: Promise<Verification> | undefined;
    const caller = () => {
      verification ??= verify(input.credential, idIn(request));
      return verification;
    };

    const decoded = decodeResponseMessages(input.response.body);
    const messages = readableMessages(decoded);
    const listings = messages.map((message) => listedIn(message, searchResult));
    const listsSomething = messages.some((message, index) =>
      carriesListing(message, listings[index], searchResult),
    );
    const expectsList = operation?.kind === 'list';
    const answered = messages.some(
      (message) => isRecord(message) && ('result' in message || 'error' in message),
    );
    // A list (or search) answer we cannot read at all, or a search result whose tool list is not JSON, is not
    // passed on unfiltered: only what can be checked goes through.
    if (((expectsList || searchResult) && !answered) || listings.some((listed) => listed.unreadable)) {
      log.warn('a listing response could not be read; refusing it rather than passing it unfiltered');
      return {
        kind: 'answer',
        ...uncheckableListing(operation !== undefined && 'id' in operation ? operation.id : idIn(request)),
      };
    }

    let body = input.response.body;
    if (listsSomething) {
      const auth = await caller();
      const method = operation === undefined ? 'tools/list' : methodOf(operation);
      if (!auth.ok) {
        await trail.writeOutcome(refusedCredentialRecord(facts, 'response', request, method, auth), newId());
        return { kind: 'answer', ...auth.answer };
      }
      body = await filtered(input, auth.caller, facts, request, operation, method, searchResult, {
        decoded,
        messages,
        listings,
      });
      if (operation?.kind !== 'tool-call') return { kind: 'replace', body };
    }

    if (operation?.kind === 'tool-call') {
      const outcomeId = newId();
      const auth = await caller();
      const known = auth.ok ? auth.caller : undefined;
      // Whether the REQUEST step refused this call is decided again on the original request the door carries
      // (a decision-cache hit in AWS), not read from a header no document promises survives and a target could
      // forge. Without a caller it was refused at REQUEST too.
      const refusedHere =
        known === undefined ||
        !(await authorizeOperation(known, operation, pdp, settings)).forward ||
        (await gateRefusal(
          gates,
          { door: input.door, caller: known, operation, facts: input.facts, decisionId: outcomeId },
          log,
          trail.scrubError,
        )) !== undefined;
      const outcome = refusedHere ? 'refused-by-gateway' : toolOutcome(input.response.status, body);
      const errorCode =
        known === undefined
          ? ('InvalidToken' as const)
          : outcome === 'success' || refusedHere
            ? undefined
            : ('ToolError' as const);
      await trail.writeOutcome(
        {
          ...baseRecord(facts, 'response', known, request),
          ...operationRecord(operation, settings.redaction),
          decision: refusedHere ? 'deny' : 'allow',
          enforced: true,
          ...(errorCode === undefined ? {} : { errorCode }),
          extra: {
            outcome,
            statusCode: input.response.status ?? null,
            ...(auth.ok ? {} : { tokenAtResponse: auth.cause }),
          },
        },
        outcomeId,
      );
    }
    return body === input.response.body ? { kind: 'pass' } : { kind: 'replace', body };
  }

  /** Every listing in the response filtered for the caller; what was shown and hidden audited. */
  async function filtered(
    input: GuardResponse,
    caller: Caller,
    facts: AuditedFacts,
    request: unknown,
    operation: McpOperation | undefined,
    method: string,
    searchResult: boolean,
    response: {
      readonly decoded: ReturnType<typeof decodeResponseMessages>;
      readonly messages: readonly unknown[];
      readonly listings: readonly Listing[];
    },
  ): Promise<unknown> {
    const { listings } = response;
    const union: Listed = {
      tools: [...new Set(listings.flatMap((listed) => listed.tools))],
      prompts: [...new Set(listings.flatMap((listed) => listed.prompts))],
      resources: [...new Set(listings.flatMap((listed) => listed.resources))],
      templates: [...new Set(listings.flatMap((listed) => listed.templates))],
    };
    const decided = await visibleListings(caller, union, pdp, settings);
    const { error } = decided;
    if (error !== undefined)
      log.error('list filtering failed; hiding every entry', {
        error: trail.scrub(error.message).slice(0, 300),
      });
    // Gates hide in every mode; policy only when enforcing (log-only shows and audits what it would hide).
    const hiddenByGates =
      gates.length === 0
        ? { names: new Set<string>(), reasons: new Map<string, string>(), all: false }
        : await gateHidden(
            gates,
            { door: input.door, caller, facts: input.facts, messages: response.messages },
            log,
            trail.scrubError,
          );
    const ungated = (names: Iterable<string>) =>
      new Set([...names].filter((name) => !hiddenByGates.all && !hiddenByGates.names.has(name)));
    const visible: Visible = { ...decided.visible, tools: ungated(decided.visible.tools) };
    const enforce = settings.mode === 'enforce';
    const everything: Visible = {
      tools: new Set(union.tools),
      prompts: new Set(union.prompts),
      resources: new Set(union.resources),
      templates: new Set(union.templates),
    };
    // An operator whose role policy lets read the schema (`schema/read`) sees every listed tool, unknown and
    // drifted ones included, to regenerate the schema from it; calls are still decided tool by tool.
    const schemaReader = union.tools.length > 0 && (await mayReadSchema(caller, pdp, settings.model));
    const shown: Visible = schemaReader
      ? everything
      : enforce
        ? visible
        : { ...everything, tools: ungated(union.tools) };
    const body = encodeResponseMessages(
      response.decoded,
      (message) =>
        isRecord(message) ? filterListings(message, shown, settings.injection, searchResult) : message,
      input.response.body,
    );
    const hidden = (names: readonly string[], seen: ReadonlySet<string>) =>
      names.filter((name) => !seen.has(name));
    const hiddenPrompts = hidden(union.prompts, visible.prompts);
    const hiddenResources = hidden(
      [...union.resources, ...union.templates],
      new Set([...visible.resources, ...visible.templates]),
    );
    if (operation?.kind !== 'tool-call') {
      const failure =
        error !== undefined
          ? { errorCode: 'AuthorizationServiceError' as const, reason: error.safeReason }
          : hiddenByGates.all
            ? {
                errorCode: 'AuthorizationServiceError' as const,
                reason: 'A tool check failed; every tool is hidden.',
              }
            : {};
      await trail.writeOutcome(
        {
          ...baseRecord(facts, 'response', caller, request),
          method,
          decision: 'allow',
          enforced: enforce,
          ...failure,
          extra: {
            listedTools: union.tools.filter((name) => shown.tools.has(name)),
            hiddenTools: schemaReader ? [] : hidden(union.tools, visible.tools),
            ...(hiddenByGates.reasons.size === 0
              ? {}
              : { hiddenByGates: Object.fromEntries(hiddenByGates.reasons) }),
            ...(schemaReader ? { schemaRead: true } : {}),
            ...(hiddenPrompts.length === 0 ? {} : { hiddenPrompts }),
            ...(hiddenResources.length === 0 ? {} : { hiddenResources }),
          },
        },
        newId(),
      );
    }
    return body;
  }

  return async (input) => {
    try {
      return await check(input);
    } catch (error) {
      // Fail closed: the target's answer is withheld rather than passed on unchecked.
      log.error('guard response step failed; withholding the answer', { error: trail.scrubError(error) });
      const reason = error instanceof AuditWriteError ? error.safeReason : UNEXPECTED_FAILURE;
      return { kind: 'answer', ...responseFailed(idIn(input.request), reason) };
    }
  };
}

/** Whether a response message carries something a caller could learn names from. */
function carriesListing(message: unknown, listed: Listed | undefined, searchResult: boolean): boolean {
  if (!isRecord(message) || listed === undefined) return false;
  if (isRecord(message.error)) return listed.tools.length > 0;
  const result = message.result;
  if (!isRecord(result)) return false;
  return (
    Array.isArray(result.tools) ||
    Array.isArray(result.prompts) ||
    Array.isArray(result.resources) ||
    Array.isArray(result.resourceTemplates) ||
    (searchResult && listed.tools.length > 0)
  );
}

function toolOutcome(
  status: number | undefined,
  body: unknown,
): 'success' | 'tool-error' | 'jsonrpc-error' | 'http-error' {
  if ((status ?? 200) >= 400) return 'http-error';
  let message: unknown = body;
  if (typeof body === 'string') {
    try {
      message = JSON.parse(body);
    } catch {
      return 'success';
    }
  }
  if (message === null || typeof message !== 'object') return 'success';
  const fields = message as Record<string, unknown>;
  if (fields.error !== undefined) return 'jsonrpc-error';
  const result = fields.result as Record<string, unknown> | undefined;
  return result?.isError === true ? 'tool-error' : 'success';
}
