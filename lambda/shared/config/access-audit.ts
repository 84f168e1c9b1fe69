import { ConfigurationError } from '../../core/errors';
import { readAuditDestination } from './audit-settings';
import { PREFIX, SettingsReader, settingsWithPrefix } from './settings-reader';

/** The grants-table stream auditor's settings (`MCP_IDENTITY_AUDIT_EVENT_SOURCE`, `_RECIPIENT_ACCOUNT_ID`). */
export function loadAccessAuditConfig(env: NodeJS.ProcessEnv): {
  readonly eventSource: string;
  readonly recipientAccountId: string;
} {
  const read = new SettingsReader(settingsWithPrefix(env, PREFIX), PREFIX);
  const { eventSource, recipientAccountId } = readAuditDestination(read);
  const problems = read.all();
  if (problems.length > 0) throw new ConfigurationError(`invalid configuration: ${problems.join('; ')}`);
  return Object.freeze({ eventSource, recipientAccountId });
}
