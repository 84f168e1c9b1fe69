import { join } from 'node:path';
import { Duration, Stack } from 'aws-cdk-lib';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { type IKey, Key, KeySpec, KeyUsage } from 'aws-cdk-lib/aws-kms';
import { type FunctionUrl, FunctionUrlAuthType } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { McpFunction, PROJECT_ROOT } from './mcp-function';

export interface AssertionKeyProps {
  /**
   * An existing asymmetric key (ECC_NIST_P256, SIGN_VERIFY) to sign with.
   * @default - a new key with the alias `alias/<stack name>/identity-assertion`
   */
  readonly keyArn?: string;
  /** Retention of the JWKS function's log group. */
  readonly logRetention: RetentionDays;
  /** Encrypts the JWKS function's log group. @default - CloudWatch Logs' own encryption */
  readonly encryptionKey?: IKey;
}

/**
 * The identity assertion's signing key (DESIGN §3.9) and where its public half is published: an asymmetric KMS
 * key (ECC_NIST_P256, SIGN_VERIFY; created here, or the configured one) and a JWKS document served by a small
 * Lambda behind a Function URL, so targets can verify assertions without AWS credentials. Whoever signs gets
 * `kms:Sign` on this key alone ({@link grantSign}); the JWKS function may only read the public key.
 */
export class AssertionKey extends Construct {
  readonly key: IKey;
  /** True when the stack created the key (rather than being given one). */
  readonly created: boolean;
  readonly jwksFunction: McpFunction;
  readonly jwksUrl: FunctionUrl;

  constructor(scope: Construct, id: string, props: AssertionKeyProps) {
    super(scope, id);
    this.created = props.keyArn === undefined;
    this.key =
      props.keyArn === undefined
        ? new Key(this, 'Key', {
            description: 'mcp-identity: signs the identity assertions the gateway sends to targets (ES256)',
            keySpec: KeySpec.ECC_NIST_P256,
            keyUsage: KeyUsage.SIGN_VERIFY,
            alias: `alias/${Stack.of(this).stackName}/identity-assertion`,
          })
        : Key.fromKeyArn(this, 'Key', props.keyArn);

    this.jwksFunction = new McpFunction(this, 'Jwks', {
      entry: join(PROJECT_ROOT, 'lambda', 'handlers', 'assertion-jwks.ts'),
      description: 'mcp-identity: publishes the identity assertion public key as a JWKS document',
      timeout: Duration.seconds(5),
      memorySize: 256,
      environment: {
        POWERTOOLS_SERVICE_NAME: 'mcp-identity-assertion-jwks',
        MCP_IDENTITY_ASSERTION_KEY_ID: this.key.keyArn,
      },
      logRetention: props.logRetention,
      ...(props.encryptionKey ? { encryptionKey: props.encryptionKey } : {}),
    });
    Grant.addToPrincipal({
      grantee: this.jwksFunction.function,
      actions: ['kms:GetPublicKey'],
      resourceArns: [this.key.keyArn],
    });
    // Public by design (auth NONE): targets fetch the JWKS without AWS credentials, as from any OIDC issuer, and
    // it holds only the public key. (cdk-nag's LambdaFunctionUrlAuth would flag it; it is in neither pack we run.)
    this.jwksUrl = this.jwksFunction.function.addFunctionUrl({ authType: FunctionUrlAuthType.NONE });
  }

  /** `https://…lambda-url…/.well-known/jwks.json`: the document's stable location. */
  get jwksDocumentUrl(): string {
    return `${this.jwksUrl.url}.well-known/jwks.json`;
  }

  /**
   * The default assertion issuer: the Function URL's origin (the URL, ending in `/`), under which the JWKS
   * lives at the well-known path — as an OIDC issuer publishes its keys. Not the gateway URL: the interceptor's
   * environment cannot name the gateway that names the interceptor (a CloudFormation cycle).
   */
  get defaultIssuer(): string {
    return this.jwksUrl.url;
  }

  /**
   * The signer's settings in the interceptor's environment (the contract lambda/shared/config/delivery-settings.ts
   * reads): key, issuer (the configured one, else {@link defaultIssuer}), header and lifetime.
   */
  signerEnvironment(settings: {
    readonly header: string;
    readonly ttlSeconds: number;
    readonly issuer?: string | undefined;
  }): Record<string, string> {
    return {
      MCP_IDENTITY_ASSERTION_KEY_ID: this.key.keyArn,
      MCP_IDENTITY_ASSERTION_ISSUER: settings.issuer ?? this.defaultIssuer,
      MCP_IDENTITY_ASSERTION_HEADER: settings.header,
      MCP_IDENTITY_ASSERTION_TTL_SECONDS: String(settings.ttlSeconds),
    };
  }

  /** `kms:Sign` and `kms:GetPublicKey` on this key only (the interceptor signs, and reads the kid once). */
  grantSign(grantee: IGrantable): Grant {
    return Grant.addToPrincipal({
      grantee,
      actions: ['kms:Sign', 'kms:GetPublicKey'],
      resourceArns: [this.key.keyArn],
    });
  }
}
