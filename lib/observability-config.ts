import { z } from 'zod';

/**
 * `mcpIdentity.observability`: the guard's metrics namespace, the dashboard and where alarms go
 * (lib/constructs/observability.ts). Everything is optional: by default the dashboard, saved queries and
 * alarms are deployed with no notification target (alarms show in the console only).
 */
export const observabilitySchema = z
  .object({
    /** CloudWatch namespace of the guard's and forwarder's metrics. @default 'McpIdentity' */
    namespace: z
      .string()
      .regex(
        /^(?!AWS\/)[A-Za-z0-9._/#:-]{1,255}$/,
        'must be a CloudWatch namespace: 1-255 letters, digits and . - _ / # :, not starting with AWS/',
      )
      .default('McpIdentity'),
    /** Deploy the CloudWatch dashboard. @default true */
    dashboard: z.boolean().default(true),
    /** An existing SNS topic the alarms notify (alarm and back to OK). @default - none */
    alarmTopicArn: z
      .string()
      .regex(
        /^arn:aws[\w-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/,
        'must be an SNS topic ARN',
      )
      .optional(),
    /** An e-mail address subscribed to the alarms (to alarmTopicArn, else to a topic the stack creates). */
    alarmEmail: z.email('must be an e-mail address').optional(),
  })
  .strict()
  .refine((value) => value.alarmTopicArn === undefined || !value.alarmTopicArn.endsWith('.fifo'), {
    message: 'CloudWatch alarms cannot notify a FIFO topic: give a standard SNS topic',
    path: ['alarmTopicArn'],
  })
  .prefault({});

export type ObservabilityConfig = z.infer<typeof observabilitySchema>;
