import { type InjectionConfig, reservedParameters } from '../core/injection';
import { ToolPins } from '../core/tool-pins';
import type { AllowedRequest, Gate, GateRefusal, OfferedListing } from './hooks';

/**
 * Pinned tool definitions (issue 12 #4) as a guard gate, enforced in every mode: a listed tool whose definition
 * no longer matches the digest `schema generate` recorded (or that has no pin in a pinned target) is hidden from
 * the listing, with its reason audited; a call of a tool this process has seen drift, or that has no pin in a
 * pinned target, is refused with a reason that names the command that fixes it. A call carries no definition,
 * so a deployed instance refuses it only once it has filtered a listing showing the drift (README limits).
 *
 * `pins` is a function so a policy reload swaps them (keeping what was seen drifting against unchanged pins).
 */
export function toolPinGate(pins: () => ToolPins): Gate {
  return {
    name: 'tool-pins',
    async onCall(request: AllowedRequest): Promise<GateRefusal | undefined> {
      if (request.operation.kind !== 'tool-call') return undefined;
      const verdict = pins().checkCall(request.operation.tool.full);
      return verdict.kind === 'ok' ? undefined : { reason: verdict.reason, errorCode: 'ToolDefinitionDrift' };
    },
    async onListing(listing: OfferedListing): Promise<ReadonlyMap<string, string>> {
      const { drifted } = pins().checkListing(listing.messages);
      return new Map(
        drifted.filter((verdict) => verdict.tool !== '').map((verdict) => [verdict.tool, verdict.reason]),
      );
    },
  };
}

/**
 * The gates of a Lambda door from its configuration: the pinned-definitions gate when the schema pins any target
 * (the pins are fixed for the function's life), none otherwise.
 */
export function pinGatesFor(
  toolPins: ReadonlyMap<string, string> | undefined,
  injection: InjectionConfig,
): Gate[] {
  if (toolPins === undefined || toolPins.size === 0) return [];
  const pins = new ToolPins(toolPins, (tool) => reservedParameters(injection, tool));
  return [toolPinGate(() => pins)];
}
