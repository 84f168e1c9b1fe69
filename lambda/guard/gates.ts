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
): Promise<GateRefusal | undefined> {
  for (const gate of gates) {
    if (gate.onCall === undefined) continue;
    try {
      const refusal = await gate.onCall(request);
      if (refusal !== undefined) return refusal;
    } catch (error) {
      log.error('a gate failed; refusing the request', { gate: gate.name, error: scrubError(error) });
      return GATE_FAILED;
    }
  }
  return undefined;
}

/** Tool names the gates hide from this listing; `all` when a gate failed (fail closed: hide every tool). */
export async function gateHidden(
  gates: readonly Gate[],
  listing: OfferedListing,
  log: DiagnosticLog,
  scrubError: (error: unknown) => string,
): Promise<{ readonly names: ReadonlySet<string>; readonly all: boolean }> {
  const names = new Set<string>();
  for (const gate of gates) {
    if (gate.onListing === undefined) continue;
    try {
      for (const name of await gate.onListing(listing)) names.add(name);
    } catch (error) {
      log.error('a gate failed on a listing; hiding every tool', {
        gate: gate.name,
        error: scrubError(error),
      });
      return { names, all: true };
    }
  }
  return { names, all: false };
}
