import type { DiagnosticLog } from '../shared/logger';
import { isRecord, methodIn, paramsOf } from './message';
import type { Door, GuardRequest, GuardResult } from './types';

/**
 * Per-decision metrics (issue 14.5): what one REQUEST step decided, with labels from a small, fixed vocabulary
 * so the metric's dimension values stay bounded whatever clients send — each distinct value is a CloudWatch
 * custom metric, billed monthly. The port is here; the EMF adapter is `lambda/adapters/emf-decision-metrics.ts`.
 */

/** Dimension value for list requests (`tools/list`, `prompts/list`, `resources/list`, templates). */
export const LIST_LABEL = '(list)';
export const PROMPT_LABEL = '(prompt)';
export const RESOURCE_LABEL = '(resource)';
/** Session plumbing and anything that is not a tool call, prompt, resource or list. */
export const OTHER_LABEL = '(other)';
/** A tool the schema does not know (or a name no tool could have). */
export const UNKNOWN_TOOL_LABEL = '(unknown)';
/** When the schema's tools are not known: distinct tool names kept per execution environment before this one. */
export const MAX_UNLISTED_TOOL_LABELS = 50;

/** What one request step decided, as the dashboard counts it. */
export interface DecisionSample {
  readonly door: Door;
  /** A tool name the schema knows, or one of the fixed labels above. */
  readonly tool: string;
  /** `deny` for every refusal and for a policy deny recorded but not enforced (log-only). */
  readonly outcome: 'allow' | 'deny';
  /** The decision point failed (Verified Permissions unavailable, throttled, timed out or rejecting). */
  readonly decisionPointError: boolean;
  /** Time the guard's request step took (parse, verify, decide, gates, audit write), ms. */
  readonly latencyMs: number;
}

/** Where samples go. Called once per request step, synchronously; may throw (the caller contains it). */
export interface DecisionMetrics {
  record(sample: DecisionSample): void;
}

const LIST_METHODS = new Set(['tools/list', 'prompts/list', 'resources/list', 'resources/templates/list']);
/** What a tool name can look like to be a label at all: bounded, and no room for a pasted token. */
const TOOL_LABEL = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Maps a tool name to its label. With the schema's tools known, unknown names share one label; without them,
 * the first {@link MAX_UNLISTED_TOOL_LABELS} well-formed names are kept and later ones share one label.
 */
export function toolLabeler(knownTools: ReadonlySet<string> | undefined): (name: unknown) => string {
  const seen = new Set<string>();
  return (name) => {
    if (typeof name !== 'string' || !TOOL_LABEL.test(name)) return UNKNOWN_TOOL_LABEL;
    if (knownTools !== undefined) return knownTools.has(name) ? name : UNKNOWN_TOOL_LABEL;
    if (seen.has(name)) return name;
    if (seen.size >= MAX_UNLISTED_TOOL_LABELS) return UNKNOWN_TOOL_LABEL;
    seen.add(name);
    return name;
  };
}

/** The sample for one request and what the guard returned for it. Pure. */
export function decisionSample(
  request: GuardRequest,
  result: GuardResult,
  latencyMs: number,
  labelTool: (name: unknown) => string,
): DecisionSample {
  const method = methodIn(request.message);
  const params = paramsOf(request.message);
  const tool =
    method === 'tools/call'
      ? labelTool(isRecord(params) ? params.name : undefined)
      : LIST_METHODS.has(method)
        ? LIST_LABEL
        : method === 'prompts/get'
          ? PROMPT_LABEL
          : method === 'resources/read'
            ? RESOURCE_LABEL
            : OTHER_LABEL;
  const decision = result.decision?.kind;
  const allowed = result.kind === 'forward' && (decision === undefined || decision === 'allow');
  return {
    door: request.door,
    tool,
    outcome: allowed ? 'allow' : 'deny',
    decisionPointError: decision === 'error',
    latencyMs,
  };
}

/**
 * The request step with a sample recorded after it. Metrics never change the result: a failing recorder is
 * logged (its message only — no request data reaches it but bounded labels) and the request goes on as decided.
 */
export function meteredRequestStep(
  step: (request: GuardRequest) => Promise<GuardResult>,
  metrics: DecisionMetrics,
  log: DiagnosticLog,
  knownTools: ReadonlySet<string> | undefined,
): (request: GuardRequest) => Promise<GuardResult> {
  const labelTool = toolLabeler(knownTools);
  return async (request) => {
    const started = performance.now();
    const result = await step(request);
    try {
      metrics.record(decisionSample(request, result, performance.now() - started, labelTool));
    } catch (error) {
      log.warn('decision metrics could not be recorded', {
        error: error instanceof Error ? error.message.slice(0, 200) : 'unknown error',
      });
    }
    return result;
  };
}
