import type { AuditSettings, AuditSink } from '../core/audit-event';
import type { AuthorizerSettings } from '../core/authorize';
import type { TokenVerifier } from '../core/caller';
import type { PolicyDecisionPoint } from '../core/decision';
import type { RedactionConfig } from '../core/redaction';
import type { DiagnosticLog } from '../shared/logger';
import type { DecisionMetrics } from './decision-metrics';
import type { ForwardStep, Gate } from './hooks';

/** How the guard decides, redacts, audits and bounds: the same for every door. */
export interface GuardSettings extends AuthorizerSettings {
  readonly redaction: RedactionConfig;
  readonly audit: Omit<AuditSettings, 'mode'>;
  readonly maxBodyBytes: number;
  /** RFC 9728 protected resource metadata URL, advertised in `WWW-Authenticate`. */
  readonly resourceMetadataUrl?: string;
}

/** The ports the guard runs on (adapters in `lambda/adapters/`), and its extension slots (`hooks.ts`). */
export interface GuardDeps {
  readonly verifier: TokenVerifier;
  readonly pdp: PolicyDecisionPoint;
  readonly audit: AuditSink;
  readonly log: DiagnosticLog;
  readonly settings: GuardSettings;
  readonly now?: () => Date;
  /** A fresh decision id (also the UID of the step's audit event). @default crypto.randomUUID */
  readonly newId?: () => string;
  /** Checks beside policy that gate calls and filter listings (e.g. pinned tool definitions). @default [] */
  readonly gates?: readonly Gate[];
  /** Steps that shape an allowed request before it goes on (e.g. per-target identity delivery). @default [] */
  readonly forwardSteps?: readonly ForwardStep[];
  /** One sample per request step (calls, allows, denials, latency), never failing it. @default none */
  readonly metrics?: DecisionMetrics;
}
