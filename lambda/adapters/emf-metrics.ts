import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { DeliveryReport } from '../core/audit-delivery';
import type { DecisionMetrics, DecisionSample } from '../guard/decision-metrics';

/**
 * CloudWatch metrics as Embedded Metric Format lines on stdout (Powertools Metrics): CloudWatch Logs extracts
 * them asynchronously, so emitting is one JSON line and no network call on the hot path. Names and dimensions
 * here are the contract the dashboard and alarms in `lib/constructs/observability.ts` read.
 */

/** @default namespace of every metric here (`observability.namespace` in the configuration). */
export const DEFAULT_METRICS_NAMESPACE = 'McpIdentity';

/** Metric names. */
export const METRIC = {
  calls: 'Calls',
  allows: 'Allows',
  denials: 'Denials',
  decisionPointErrors: 'DecisionPointErrors',
  decisionLatency: 'DecisionLatency',
  auditEventsParked: 'AuditEventsParked',
  auditEventsDelivered: 'AuditEventsDelivered',
} as const;

/** Dimension names. `service` is Powertools' own: the stack sets it to the gateway name. */
export const DIMENSION = { service: 'service', tool: 'Tool', door: 'Door' } as const;

/** A Powertools Metrics instance for this deployment, built once at module scope. */
export function createMetrics(options: { readonly namespace?: string; readonly service: string }): Metrics {
  return new Metrics({
    namespace: options.namespace || process.env.POWERTOOLS_METRICS_NAMESPACE || DEFAULT_METRICS_NAMESPACE,
    serviceName: options.service,
  });
}

/**
 * One EMF line per decision, with two dimension sets: {service, Tool} (calls, allows and denials per tool) and
 * {service, Door} (totals, and latency percentiles, which CloudWatch cannot combine across tools). Allows,
 * Denials and DecisionPointErrors are written as 0 or 1 on every decision so each series is continuous and a
 * Sum is a count. Published at once: a Lambda invocation holds one decision, and nothing is left buffered for
 * a frozen environment to lose.
 */
export class EmfDecisionMetrics implements DecisionMetrics {
  constructor(private readonly metrics: Metrics) {}

  record(sample: DecisionSample): void {
    const allowed = sample.outcome === 'allow' ? 1 : 0;
    try {
      this.metrics
        .addDimension(DIMENSION.tool, sample.tool)
        .addDimensions({ [DIMENSION.door]: sample.door })
        .addMetric(METRIC.calls, MetricUnit.Count, 1)
        .addMetric(METRIC.allows, MetricUnit.Count, allowed)
        .addMetric(METRIC.denials, MetricUnit.Count, 1 - allowed)
        .addMetric(METRIC.decisionPointErrors, MetricUnit.Count, sample.decisionPointError ? 1 : 0)
        .addMetric(
          METRIC.decisionLatency,
          MetricUnit.Milliseconds,
          Math.round(sample.latencyMs * 1000) / 1000,
        )
        .publishStoredMetrics();
    } catch (error) {
      // A half-built line must not leak its dimensions or values into the next decision's.
      this.metrics.clearMetrics();
      this.metrics.clearDimensions();
      throw error;
    }
  }
}

/** The forwarder's per-invocation figures: events delivered to CloudTrail Lake and events parked in the DLQ. */
export function publishDeliveryMetrics(metrics: Metrics, report: DeliveryReport): void {
  metrics
    .addMetric(METRIC.auditEventsDelivered, MetricUnit.Count, report.ingested)
    .addMetric(METRIC.auditEventsParked, MetricUnit.Count, report.parked)
    .publishStoredMetrics();
}
