import { randomUUID } from 'node:crypto';
import { UNEXPECTED_FAILURE, unavailable } from './answers';
import { auditedFacts, refusedCredentialRecord } from './audit-records';
import { createAuditTrail } from './audit-trail';
import { createVerification } from './authenticate';
import { meteredRequestStep } from './decision-metrics';
import type { GuardDeps } from './deps';
import { createRequestStep } from './request-step';
import { createResponseStep } from './response-step';
import { createTerminationStep } from './termination-step';
import type { Guard } from './types';

/**
 * The door-agnostic guard (DESIGN §3.11): one pipeline for every front door. A door decodes its event into a
 * {@link GuardRequest} / {@link GuardResponse}, calls the guard, and encodes what it returns. The guard never
 * throws, never forwards on an error path, and writes one audit event per step.
 */
export function createGuard(deps: GuardDeps): Guard {
  const now = deps.now ?? (() => new Date());
  const newId = deps.newId ?? randomUUID;
  const trail = createAuditTrail({
    audit: deps.audit,
    log: deps.log,
    redaction: deps.settings.redaction,
    settings: { ...deps.settings.audit, mode: deps.settings.mode },
    now,
  });
  const verify = createVerification({
    verifier: deps.verifier,
    log: deps.log,
    scrubError: trail.scrubError,
    resourceMetadataUrl: deps.settings.resourceMetadataUrl,
  });
  const context = { deps, trail, verify, newId };
  const requestStep = createRequestStep(context);
  const inputTypes = deps.settings.model.inputTypes;

  return {
    async authenticate(credential, facts, door) {
      const decisionId = newId();
      try {
        const verification = await verify(credential, null);
        if (verification.ok) return verification;
        try {
          await trail.write(
            refusedCredentialRecord(
              auditedFacts(facts, trail.scrub, door),
              'request',
              undefined,
              'unknown',
              verification,
            ),
            decisionId,
          );
        } catch {
          // Logged by the trail; the credential is refused either way.
        }
        return { ok: false, answer: { kind: 'answer', ...verification.answer, decisionId } };
      } catch (error) {
        deps.log.error('authentication failed; refusing', { error: trail.scrubError(error) });
        return {
          ok: false,
          answer: { kind: 'answer', ...unavailable(null, UNEXPECTED_FAILURE), decisionId },
        };
      }
    },
    onRequest:
      deps.metrics === undefined
        ? requestStep
        : meteredRequestStep(
            requestStep,
            deps.metrics,
            deps.log,
            inputTypes === undefined ? undefined : new Set(Object.keys(inputTypes)),
          ),
    onResponse: createResponseStep(context),
    onTerminate: createTerminationStep(context),
  };
}
