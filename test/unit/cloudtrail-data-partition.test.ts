import { partition as sdkPartition } from '@aws-sdk/core/client';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { HttpRequest } from '@smithy/protocol-http';
import {
  awsPartition,
  CloudTrailDataClient,
  cloudTrailDataEndpoint,
  parseChannelArn,
} from '../../lambda/adapters/cloudtrail-data-client';
import { AuditRequestError } from '../../lambda/core/audit-delivery';

const REGIONS = [
  ['us-east-1', 'aws', 'https://cloudtrail-data.us-east-1.amazonaws.com'],
  ['eu-west-1', 'aws', 'https://cloudtrail-data.eu-west-1.amazonaws.com'],
  ['cn-north-1', 'aws-cn', 'https://cloudtrail-data.cn-north-1.amazonaws.com.cn'],
  ['cn-northwest-1', 'aws-cn', 'https://cloudtrail-data.cn-northwest-1.amazonaws.com.cn'],
  ['us-gov-west-1', 'aws-us-gov', 'https://cloudtrail-data.us-gov-west-1.amazonaws.com'],
  ['us-gov-east-1', 'aws-us-gov', 'https://cloudtrail-data.us-gov-east-1.amazonaws.com'],
  ['us-iso-east-1', 'aws-iso', 'https://cloudtrail-data.us-iso-east-1.c2s.ic.gov'],
  ['us-isob-east-1', 'aws-iso-b', 'https://cloudtrail-data.us-isob-east-1.sc2s.sgov.gov'],
  ['eu-isoe-west-1', 'aws-iso-e', 'https://cloudtrail-data.eu-isoe-west-1.cloud.adc-e.uk'],
  ['us-isof-south-1', 'aws-iso-f', 'https://cloudtrail-data.us-isof-south-1.csp.hci.ic.gov'],
  ['eusc-de-east-1', 'aws-eusc', 'https://cloudtrail-data.eusc-de-east-1.amazonaws.eu'],
] as const;

describe('issue 10 #21: the CloudTrail Data endpoint follows the partition', () => {
  it.each(REGIONS)('%s is in %s and answers at %s', (region, partition, endpoint) => {
    expect(awsPartition(region).name).toBe(partition);
    expect(cloudTrailDataEndpoint(region)).toBe(endpoint);
  });

  it.each(REGIONS)('agrees with the SDK’s own partition table for %s', (region) => {
    const sdk = sdkPartition(region);
    expect(awsPartition(region)).toStrictEqual({ name: sdk.name, dnsSuffix: sdk.dnsSuffix });
  });

  it.each([
    ['cn-north-1', 'cloudtrail-data.cn-north-1.amazonaws.com.cn'],
    ['us-gov-west-1', 'cloudtrail-data.us-gov-west-1.amazonaws.com'],
  ])('signs and sends PutAuditEvents for %s to %s, scoped to that region', async (region, host) => {
    let sent: HttpRequest | undefined;
    const spy = jest.spyOn(NodeHttpHandler.prototype, 'handle').mockImplementation(async (request) => {
      sent = request as HttpRequest;
      throw new Error('no network in tests');
    });
    try {
      const client = new CloudTrailDataClient({
        region,
        channelArn: `arn:${awsPartition(region).name}:cloudtrail:${region}:123456789012:channel/c-1`,
        credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      });
      await expect(client.put([{ id: 'a', eventData: '{}', eventDataChecksum: 'x' }])).rejects.toThrow(
        AuditRequestError,
      );
    } finally {
      spy.mockRestore();
    }
    expect(sent?.hostname).toBe(host);
    expect(sent?.headers.host).toBe(host);
    expect(sent?.headers.authorization).toContain(`/${region}/cloudtrail-data/aws4_request`);
  });

  it('reads region and partition from a channel ARN, and refuses one whose partition does not hold its region', () => {
    expect(parseChannelArn('arn:aws-cn:cloudtrail:cn-north-1:123456789012:channel/c-1')).toStrictEqual({
      region: 'cn-north-1',
      partition: 'aws-cn',
      account: '123456789012',
    });
    expect(parseChannelArn('arn:aws-us-gov:cloudtrail:us-gov-west-1:123456789012:channel/c-1')).toMatchObject(
      {
        partition: 'aws-us-gov',
      },
    );
    expect(parseChannelArn('arn:aws:cloudtrail:cn-north-1:123456789012:channel/c-1')).toStrictEqual({
      error: 'the channel ARN names partition aws, but its region cn-north-1 is in aws-cn',
    });
    expect(parseChannelArn('arn:aws:sqs:us-east-1:123456789012:q')).toStrictEqual({
      error: 'not a CloudTrail channel ARN: arn:aws:sqs:us-east-1:123456789012:q',
    });
  });
});
