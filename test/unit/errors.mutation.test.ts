import {
  AuditWriteError,
  ConfigurationError,
  DecisionPointError,
  InvalidClaimsError,
  InvalidTokenError,
  IssuerUnavailableError,
  MalformedRequestError,
  McpIdentityError,
  SpoofingAttemptError,
} from '../../lambda/core/errors';

describe('the error hierarchy', () => {
  it.each([
    [new InvalidTokenError('m'), 'InvalidTokenError', 'The access token is missing, invalid or expired.'],
    [new InvalidClaimsError('m'), 'InvalidClaimsError', 'The access token is missing, invalid or expired.'],
    [
      new DecisionPointError('m'),
      'DecisionPointError',
      'The authorization service could not decide this request, so it was denied.',
    ],
    [new ConfigurationError('m'), 'ConfigurationError', 'The gateway is misconfigured.'],
    [
      new IssuerUnavailableError('m'),
      'IssuerUnavailableError',
      'The identity provider could not be reached to verify the access token; try again shortly.',
    ],
    [
      new AuditWriteError('m'),
      'AuditWriteError',
      'The request could not be recorded in the audit trail, so it was not carried out.',
    ],
  ])(
    'gives %s a fixed safe reason and its own name, keeping the message for logs',
    (error, name, safeReason) => {
      expect(error).toBeInstanceOf(McpIdentityError);
      expect(error.name).toBe(name);
      expect(error.safeReason).toBe(safeReason);
      expect(error.message).toBe('m');
    },
  );

  it.each([
    ['DecisionPointError', (cause: unknown) => new DecisionPointError('m', { cause })],
    ['ConfigurationError', (cause: unknown) => new ConfigurationError('m', { cause })],
    ['IssuerUnavailableError', (cause: unknown) => new IssuerUnavailableError('m', { cause })],
    ['AuditWriteError', (cause: unknown) => new AuditWriteError('m', { cause })],
    ['InvalidTokenError', (cause: unknown) => new InvalidTokenError('m', { cause })],
  ])('keeps the cause of a %s', (_name, build) => {
    const cause = new Error('underlying');

    expect(build(cause).cause).toBe(cause);
  });

  it('answers a malformed request with its own message and JSON-RPC code', () => {
    const error = new MalformedRequestError('params must be an object', -32602);

    expect(error.safeReason).toBe('params must be an object');
    expect(error.jsonRpcCode).toBe(-32602);
  });

  it('names the spoofed parameters in the message and the safe reason', () => {
    const error = new SpoofingAttemptError(['_caller_user', 'owner']);

    expect(error.parameters).toStrictEqual(['_caller_user', 'owner']);
    expect(error.message).toBe('client supplied reserved argument(s): _caller_user, owner');
    expect(error.safeReason).toBe(
      'The request sets reserved identity argument(s) (_caller_user, owner) that only the gateway may set.',
    );
  });
});
