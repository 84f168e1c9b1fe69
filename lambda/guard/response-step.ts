import { isDeepStrictEqual } from 'node:util';
import { authorizeOperation, visibleListings } from '../core/authorize';
import type { Caller } from '../core/caller';
import { filterListings, type Listed, listedIn, type Visible } from '../core/listings';
import { type McpOperation, methodOf, parseMcpRequest } from '../core/mcp-operation';
import { decodeResponseMessages, encodeResponseMessages, readableMessages } from '../core/response-messages';
import { mayReadSchema } from '../core/schema-read';
import { refused, responseFailed, uncheckableListing } from './answers';
import {
  type AuditedFacts,
  auditedFacts,
  baseRecord,
  operationRecord,
  refusedCredentialRecord,
} from './audit-records';
import { type AuditTrail, failureReason } from './audit-trail';
import type { Verification } from './authenticate';
import type { GuardDeps } from './deps';
import { gateHidden, gateRefusal } from './gates';
import type { GateRefusal } from './hooks';
import { boundedMessage, idIn, isRecord } from './message';
import type { Credential, GuardResponse, ResponseResult } from './types';

/** Answers that run something and return its result: withheld from a caller the kill switch refuses. */
const RESULT_KINDS: ReadonlySet<McpOperation['kind']> = new Set(['tool-call', 'prompt-get', 'resource-read']);

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
 * that gates calls, or refused. The outcome of a `tools/call` is audited. JSON-RPC errors pass. The kill switch
 * (gates' `onCaller`) holds here too: a caller it refuses gets no tool, prompt or resource result (the refusal
 * instead, audited `withheld-after-revocation`) and no listing entry.
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
    // The gates' pre-policy refusal (the kill switch), asked at most once per step: it holds at the RESPONSE
    // step too, so a result or a listing that comes back after a revocation is not delivered.
    let barring: Promise<GateRefusal | undefined> | undefined;
    const barred = (known: Caller) => {
      barring ??= gateRefusal(
        gates,
        {
          door: input.door,
          caller: known,
          operation: operation ?? { kind: 'notification', method: 'response' },
          facts: input.facts,
          decisionId: newId(),
        },
        log,
        trail.scrubError,
        'onCaller',
      );
      return barring;
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
      body = await filtered(
        input,
        auth.caller,
        facts,
        request,
        operation,
        method,
        searchResult,
        {
          decoded,
          messages,
          listings,
        },
        await barred(auth.caller),
      );
      if (operation?.kind !== 'tool-call') return { kind: 'replace', body };
    }

    // A result (tool, prompt, resource) that comes back for a caller the kill switch now refuses — the request
    // was let through before the revocation — is withheld: the caller gets the refusal, and the audit says so.
    // The gateway's own refusal (AgentCore runs the RESPONSE interceptor on it too) passes as it is.
    let withheld: { readonly refusal: GateRefusal; readonly ours: boolean } | undefined;
    if (operation !== undefined && RESULT_KINDS.has(operation.kind) && gates.length > 0) {
      const auth = await caller();
      const refusal = auth.ok ? await barred(auth.caller) : undefined;
      if (refusal !== undefined) {
        const answer = refused(operation, trail.scrub(refusal.reason));
        const ours = messages.length === 1 && isDeepStrictEqual(messages[0], answer.body);
        withheld = { refusal, ours };
        // A call's outcome record says it below; a prompt or resource read gets its own.
        if (!ours && operation.kind !== 'tool-call') {
          await trail.writeOutcome(
            {
              ...baseRecord(facts, 'response', auth.ok ? auth.caller : undefined, request),
              ...operationRecord(operation, settings.redaction),
              decision: 'deny',
              enforced: true,
              errorCode: refusal.errorCode,
              reason: refusal.reason,
              extra: { outcome: withheldOutcome(refusal), statusCode: input.response.status ?? null },
            },
            newId(),
          );
          return { kind: 'answer', ...answer };
        }
      }
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
        withheld !== undefined ||
        !(await authorizeOperation(known, operation, pdp, settings)).forward ||
        (await gateRefusal(
          gates,
          { door: input.door, caller: known, operation, facts: input.facts, decisionId: outcomeId },
          log,
          trail.scrubError,
        )) !== undefined;
      const withholding = withheld !== undefined && !withheld.ours ? withheld.refusal : undefined;
      const outcome =
        withholding !== undefined
          ? withheldOutcome(withholding)
          : refusedHere
            ? 'refused-by-gateway'
            : toolOutcome(input.response.status, body);
      const errorCode =
        known === undefined
          ? ('InvalidToken' as const)
          : withheld !== undefined
            ? withheld.refusal.errorCode
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
          ...(withheld === undefined ? {} : { reason: withheld.refusal.reason }),
          extra: {
            outcome,
            statusCode: input.response.status ?? null,
            ...(auth.ok ? {} : { tokenAtResponse: auth.cause }),
          },
        },
        outcomeId,
      );
      if (withholding !== undefined)
        return { kind: 'answer', ...refused(operation, trail.scrub(withholding.reason)) };
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
    barred: GateRefusal | undefined,
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
    const nothing: Visible = {
      tools: new Set(),
      prompts: new Set(),
      resources: new Set(),
      templates: new Set(),
    };
    // A caller the kill switch refuses sees no entry at all — tools, prompts, resources, templates — in every
    // mode, schema readers included.
    const visible: Visible =
      barred !== undefined ? nothing : { ...decided.visible, tools: ungated(decided.visible.tools) };
    const enforce = settings.mode === 'enforce';
    const everything: Visible = {
      tools: new Set(union.tools),
      prompts: new Set(union.prompts),
      resources: new Set(union.resources),
      templates: new Set(union.templates),
    };
    // An operator whose role policy lets read the schema (`schema/read`) sees every listed tool, unknown and
    // drifted ones included, to regenerate the schema from it; calls are still decided tool by tool.
    const schemaReader =
      barred === undefined && union.tools.length > 0 && (await mayReadSchema(caller, pdp, settings.model));
    const shown: Visible =
      barred !== undefined
        ? nothing
        : schemaReader
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
        barred !== undefined
          ? { decision: 'deny' as const, errorCode: barred.errorCode, reason: barred.reason }
          : error !== undefined
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
          enforced: barred !== undefined || enforce,
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
      return { kind: 'answer', ...responseFailed(idIn(input.request), failureReason(error)) };
    }
  };
}

/** How the outcome audit names a result withheld because the kill switch (or its failure) refused the caller. */
function withheldOutcome(refusal: GateRefusal): 'withheld-after-revocation' | 'withheld-unchecked' {
  return refusal.errorCode === 'Revoked' ? 'withheld-after-revocation' : 'withheld-unchecked';
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
