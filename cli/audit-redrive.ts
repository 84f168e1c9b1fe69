import { SQSClient } from '@aws-sdk/client-sqs';
import { redriveDeadLetters } from '../lambda/adapters/audit-redrive';
import { CloudTrailDataClient, parseChannelArn } from '../lambda/adapters/cloudtrail-data-client';
import { redriveStores } from './audit-redrive-stores';
import { awsContext } from './aws-context';
import { CliError } from './errors';

/** `mcp-identity audit redrive`: replays the dead-letter queue's parked audit events into the channel. */

const EXIT_FAILED = 1;

export interface RedriveOptions {
  readonly queueUrl: string;
  readonly channelArn: string;
  readonly region?: string;
  readonly externalId?: string;
  readonly max?: number;
  readonly dryRun: boolean;
  readonly deliveredTable?: string;
  readonly json: boolean;
}

export async function runRedrive(options: RedriveOptions): Promise<void> {
  const channel = parseChannelArn(options.channelArn);
  if ('error' in channel) throw new CliError(`--channel-arn: ${channel.error}`);
  const aws = await awsContext(options.region === undefined ? {} : { region: options.region });
  const report = await redriveDeadLetters(
    new SQSClient(aws),
    // PutAuditEvents goes to the channel's own region, at its partition's endpoint.
    new CloudTrailDataClient({
      region: channel.region,
      credentials: aws.credentials,
      channelArn: options.channelArn,
      ...(options.externalId ? { externalId: options.externalId } : {}),
    }),
    {
      queueUrl: options.queueUrl,
      dryRun: options.dryRun,
      ...redriveStores(options.queueUrl, options.deliveredTable),
      ...(options.max === undefined ? {} : { maxMessages: options.max }),
      onProgress: (line) => process.stderr.write(`${line}\n`),
    },
  );
  if (options.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else {
    process.stdout.write(
      options.dryRun
        ? `${report.events} parked event(s) in ${report.messages} message(s); by cause: ${JSON.stringify(report.byErrorCode)}; ${report.unreadable} unreadable\n`
        : `redriven ${report.redriven} event(s); ${report.stillFailing} still failing (left in the queue); ${report.unreadable} unreadable message(s)${report.undeleted > 0 ? `; ${report.undeleted} redriven message(s) could not be deleted and will come back` : ''}\n`,
    );
  }
  if (!options.dryRun && (report.stillFailing > 0 || report.unreadable > 0 || report.undeleted > 0))
    process.exitCode = EXIT_FAILED;
}
