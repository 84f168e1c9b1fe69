import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { AwsSetupError, awsContext, describeAwsError } from '../../cli/aws-context';
import { awsFreeEnv, cliAsync } from './helpers';

/**
 * Issue 10 #22: the AWS-facing commands take region and credentials from the SDK's default chains (so
 * AWS_PROFILE and ~/.aws/config work), and a missing region or credential is one clear line and exit 1.
 */

interface Seen {
  readonly path: string;
  readonly authorization: string;
  readonly target: string;
}

/** A loopback AWS endpoint that records each signed request and refuses it as AccessDenied. */
async function fakeAws(): Promise<{ url: string; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  const server: Server = createServer((request: IncomingMessage, response) => {
    request.resume();
    request.on('end', () => {
      seen.push({
        path: request.url ?? '',
        authorization: String(request.headers.authorization ?? ''),
        target: String(request.headers['x-amz-target'] ?? ''),
      });
      response.writeHead(400, {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-errortype': 'AccessDeniedException',
        'x-amzn-query-error': 'AccessDenied;Sender',
      });
      response.end(JSON.stringify({ __type: 'AccessDeniedException', message: 'User is not authorized' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const commands = (url: string): [string, string[], string][] => [
  ['policies diff', ['policies', 'diff', '--store', 'ps-1'], 'verifiedpermissions'],
  ['policies push', ['policies', 'push', '--store', 'ps-1', '--dry-run'], 'verifiedpermissions'],
  ['activity (CloudWatch Logs)', ['activity', '--store', 'cloudwatch', '--log-group', '/audit'], 'logs'],
  [
    'activity (CloudTrail Lake)',
    ['activity', '--store', 'cloudtrail-lake', '--event-data-store', 'eds-1'],
    'cloudtrail',
  ],
  [
    'audit redrive',
    [
      'audit',
      'redrive',
      '--queue-url',
      `${url}/123456789012/dlq`,
      '--channel-arn',
      'arn:aws:cloudtrail:eu-central-1:123456789012:channel/c-1',
      '--dry-run',
    ],
    'sqs',
  ],
];

/** One line on stderr, with no stack frame in it. */
function expectOneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((line) => line.trim() !== '');
  expect(lines).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s+at /m);
  return lines[0] as string;
}

/** Runs a test against its own loopback AWS, so tests can run concurrently (each spawns the CLI). */
async function withFakeAws<T>(test: (aws: Awaited<ReturnType<typeof fakeAws>>) => Promise<T>): Promise<T> {
  const aws = await fakeAws();
  try {
    return await test(aws);
  } finally {
    await aws.close();
  }
}

// Each case spawns the CLI (a few seconds on a busy machine).
jest.setTimeout(60_000);

describe('issue 10 #22: AWS commands use the SDK default region and credential chains', () => {
  it.each(commands('http://placeholder'))(
    '%s takes its region and credentials from AWS_PROFILE in ~/.aws/config',
    (_name, args, service) =>
      withFakeAws(async (aws) => {
        const { env, home } = awsFreeEnv({ AWS_PROFILE: 'ops', AWS_ENDPOINT_URL: aws.url });
        mkdirSync(join(home, '.aws'));
        writeFileSync(join(home, '.aws', 'config'), '[profile ops]\nregion = eu-central-1\n');
        writeFileSync(
          join(home, '.aws', 'credentials'),
          '[ops]\naws_access_key_id = AKIDOPSPROFILE\naws_secret_access_key = secret\n',
        );
        const before = aws.seen.length;
        const realArgs = args.map((arg) => arg.replace('http://placeholder', aws.url));

        const result = await cliAsync(realArgs, env);

        const sent = aws.seen.slice(before);
        expect(sent.length).toBeGreaterThan(0);
        for (const request of sent) expect(request.authorization).toContain(`Credential=AKIDOPSPROFILE/`);
        expect(sent[0]?.authorization).toContain(`/eu-central-1/${service}/aws4_request`);
        // What AWS answered is an expected failure too: one line naming it, exit 1.
        expect(result.status).toBe(1);
        expect(expectOneLine(result.stderr)).toMatch(/^mcp-identity: .*(AccessDenied|not authorized)/);
      }),
  );

  it.each(commands('http://127.0.0.1:9'))(
    '%s without credentials prints one clear line and exits 1, asking AWS nothing',
    (_name, args) =>
      withFakeAws(async (aws) => {
        const { env } = awsFreeEnv({ AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL: aws.url });
        const before = aws.seen.length;

        const result = await cliAsync(args, env);

        expect(result.status).toBe(1);
        expect(expectOneLine(result.stderr)).toMatch(
          /^mcp-identity: no usable AWS credentials \(.+\): set AWS_PROFILE to a configured profile/,
        );
        expect(aws.seen.length).toBe(before);
      }),
  );

  it.each(commands('http://127.0.0.1:9'))(
    '%s without a region prints one clear line and exits 1',
    async (_name, args) => {
      const { env } = awsFreeEnv({ AWS_PROFILE: 'nowhere' });

      const result = await cliAsync(args, env);

      expect(result.status).toBe(1);
      expect(expectOneLine(result.stderr)).toBe(
        'mcp-identity: no AWS Region: pass --region or set AWS_REGION, or set region for profile nowhere in ~/.aws/config',
      );
    },
  );

  it('--region wins over the profile, and a malformed one is refused in one line', () =>
    withFakeAws(async (aws) => {
      const { env, home } = awsFreeEnv({ AWS_PROFILE: 'ops', AWS_ENDPOINT_URL: aws.url });
      mkdirSync(join(home, '.aws'));
      writeFileSync(
        join(home, '.aws', 'config'),
        '[profile ops]\nregion = eu-central-1\naws_access_key_id = AKIDOPSPROFILE\naws_secret_access_key = s\n',
      );
      const before = aws.seen.length;
      await cliAsync(['activity', '--store', 'cloudwatch', '--log-group', 'g', '--region', 'us-west-2'], env);
      expect(aws.seen[before]?.authorization).toContain('/us-west-2/logs/aws4_request');

      const bad = await cliAsync(['policies', 'diff', '--store', 'ps-1', '--region', 'eu west'], env);
      expect(bad.status).toBe(1);
      expect(expectOneLine(bad.stderr)).toBe(
        "mcp-identity: 'eu west' is not an AWS Region (for example eu-west-1)",
      );
    }));
});

describe('awsContext', () => {
  const credentials = async () => ({ accessKeyId: 'a', secretAccessKey: 'b' });

  it('prefers --region, else the default chain', async () => {
    await expect(
      awsContext({ region: 'eu-west-1', resolveRegion: async () => 'us-east-1', credentials }),
    ).resolves.toMatchObject({ region: 'eu-west-1' });
    await expect(awsContext({ resolveRegion: async () => 'us-east-1', credentials })).resolves.toMatchObject({
      region: 'us-east-1',
    });
  });

  it('names the profile whose region is missing', async () => {
    await expect(
      awsContext({ resolveRegion: async () => undefined, credentials, env: { AWS_PROFILE: 'dev' } }),
    ).rejects.toThrow(
      new AwsSetupError(
        'no AWS Region: pass --region or set AWS_REGION, or set region for profile dev in ~/.aws/config',
      ),
    );
  });

  it('keeps only the first line of the credential chain’s message', async () => {
    const failing = async () => {
      throw Object.assign(new Error('Could not load credentials from any providers\nmore advice\n'), {
        name: 'CredentialsProviderError',
      });
    };
    await expect(awsContext({ region: 'eu-west-1', credentials: failing })).rejects.toThrow(
      /^no usable AWS credentials \(Could not load credentials from any providers\): /,
    );
  });

  it('describes service errors and credential errors in one line, and nothing else', () => {
    const denied = Object.assign(new Error('User is not authorized\nto do this'), {
      name: 'AccessDeniedException',
      $metadata: { httpStatusCode: 403 },
    });
    expect(describeAwsError(denied)).toBe(
      'AWS answered AccessDeniedException (HTTP 403): User is not authorized',
    );
    expect(
      describeAwsError(Object.assign(new Error('Token is expired'), { name: 'TokenProviderError' })),
    ).toMatch(/^no usable AWS credentials \(Token is expired\)/);
    expect(describeAwsError(new TypeError('x'))).toBeUndefined();
    expect(describeAwsError('text')).toBeUndefined();
  });
});
