import type { DiagnosticLog } from '../shared/logger';
import type { AllowedRequest, Gate, GateRefusal, OfferedListing } from './hooks';

/** Running the {@link Gate}s: the first refusal wins; a gate that fails refuses (or hides everything). */

const GATE_FAILED: GateRefusal = Object.freeze({
  reason: 'The request could not be checked, so it was denied.',
  errorCode: 'AuthorizationServiceError',
});

export async function gateRefusal(
  gates: readonly Gate[],
  request: AllowedRequest,
  log: DiagnosticLog,
  scrubError: (error: unknown) => string,
  slot: 'onCall' | 'onCaller' = 'onCall',
): Promise<GateRefusal | undefined> {
  for (const gate of gates) {
    const check = gate[slot];
    if (check === undefined) continue;
    try {
      const refusal = await check.call(gate, request);
      if (refusal !== undefined) return refusal;
    } catch (error) {
      log.error('a gate failed; refusing the request', { gate: gate.name, error: scrubError(error) });
      return GATE_FAILED;
    }
  }
  return undefined;
}

/**
 * Tool names the gates hide from this listing, with the reasons gates gave; `all` when a gate failed (fail
 * closed: hide every tool).
 */
export async function gateHidden(
  gates: readonly Gate[],
  listing: OfferedListing,
  log: DiagnosticLog,
  scrubError: (error: unknown) => string,
): Promise<{
  readonly names: ReadonlySet<string>;
  readonly reasons: ReadonlyMap<string, string>;
  readonly all: boolean;
}> {
  const names = new Set<string>();
  const reasons = new Map<string, string>();
  for (const gate of gates) {
    if (gate.onListing === undefined) continue;
    try {
      const hidden = await gate.onListing(listing);
      if (hidden instanceof Map) {
        for (const [name, reason] of hidden) {
          names.add(name);
          if (!reasons.has(name)) reasons.set(name, reason);
        }
      } else for (const name of hidden as ReadonlySet<string>) names.add(name);
    } catch (error) {
      log.error('a gate failed on a listing; hiding every tool', {
        gate: gate.name,
        error: scrubError(error),
      });
      return { names, reasons, all: true };
    }
  }
  return { names, reasons, all: false };
}
