import { type FSWatcher, mkdirSync, readFileSync, rmSync, statSync, watch, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { CachingAccessStore } from '../lambda/adapters/access-cache';
import { AssertionCache } from '../lambda/adapters/assertion-cache';
import { CedarDecisionPoint } from '../lambda/adapters/cedar-decision-point';
import { CachingDecisionPoint } from '../lambda/adapters/decision-cache';
import { JsonlAuditSink } from '../lambda/adapters/jsonl-audit-sink';
import { JwtTokenVerifier } from '../lambda/adapters/jwt-token-verifier';
import { LocalAssertionSigner } from '../lambda/adapters/local-assertion-signer';
import { PolicyFolderError } from '../lambda/adapters/policy-diagnostics';
import { loadPolicyBundle, type PolicyBundle } from '../lambda/adapters/policy-files';
import { CachingTokenVerifier } from '../lambda/adapters/verified-caller-cache';
import { DEFAULT_ASSERTION_HEADER, type TargetDelivery } from '../lambda/core/identity-delivery';
import { DEFAULT_INJECTION, reservedParameters } from '../lambda/core/injection';
import { DEFAULT_REDACTION } from '../lambda/core/redaction';
import { ToolPins } from '../lambda/core/tool-pins';
import { GrantingVerifier, revocationGate } from '../lambda/guard/access-gates';
import type { GuardDeps } from '../lambda/guard/deps';
import { identityDeliveryStep } from '../lambda/guard/identity-delivery-step';
import { toolPinGate } from '../lambda/guard/tool-pin-gate';
import { FileAccessLedger } from './access-file';
import { CONSOLE_PATH, createConsole } from './console/routes';
import { DevIssuer } from './dev-issuer';
import { type DoorKind, type LocalDoor, startLocalDoor } from './doors';
import { type OrdersServer, startOrdersServer } from './orders-server';
import { decisionSummary, recordingAuditSink } from './request-log';
import { AUDIT_FILE, STATE_FILE } from './stack-names';
import { type BridgedTarget, startTargetBridge } from './target-bridge';
import type { TargetSpec } from './target-specs';
import { type LocalUsers, loadUsers } from './users';

export { AUDIT_FILE, STATE_FILE };

export class LocalStackError extends Error {}

/** The stack described by a state file, if its process is still alive. */
function runningStack(stateFile: string): LocalStackState | undefined {
  let state: LocalStackState;
  try {
    state = JSON.parse(readFileSync(stateFile, 'utf8')) as LocalStackState;
  } catch {
    return undefined;
  }
  try {
    process.kill(state.pid, 0);
    return state;
  } catch {
    return undefined; // a stale file from a stack that did not stop cleanly
  }
}

export interface LocalStackOptions {
  /** MCP (gateway) port. @default 8080 */
  readonly port?: number;
  /** Dev issuer port. @default 8081 */
  readonly issuerPort?: number;
  readonly policyDir: string;
  readonly usersFile: string;
  /** Where the audit store and the state file live (gitignored). */
  readonly dataDir: string;
  /** Reload policies when files in policyDir change. @default true */
  readonly watchPolicies?: boolean;
  /** @default 'enforce' */
  readonly mode?: 'enforce' | 'log-only';
  /**
   * How long a subject's grants and revocations (<data>/access.json) are reused: the bound on how long a grant
   * or a revocation takes to apply. @default 5
   */
  readonly accessTtlSeconds?: number;
  /** Human-readable progress and request lines. */
  readonly log?: (line: string) => void;
  /**
   * The operator's own MCP servers (`dev --target`), each behind the gateway as `name___tool`. Without any, the
   * demo orders server is the one target, as `orders`.
   */
  readonly targets?: readonly TargetSpec[];
  /**
   * The front door emulated: AgentCore Gateway (interceptor) or API Gateway (REQUEST authorizer + streaming MCP
   * proxy). Either way the same guard, targets, policies and audit. @default 'agentcore'
   */
  readonly door?: DoorKind;
  /**
   * API Gateway door: the authorizer's result cache TTL in seconds (0–3600, 0 = off). The authorizer refuses
   * tokens that expire within it. @default 60, as the stack's `doors.apiGateway`
   */
  readonly authorizerCacheTtlSeconds?: number;
  /** Serve the local console at `/console` on the gateway's port. @default true */
  readonly console?: boolean;
}

/** A target behind the local gateway, as the dev log and tests see it. */
export interface LocalTarget {
  readonly name: string;
  /** Where the gateway sends its JSON-RPC (the demo server, or the bridge in front of the operator's server). */
  readonly url: string;
  readonly describe: string;
  /** How the verified caller reaches this target's tools. */
  readonly delivery: TargetDelivery;
}

export interface LocalStackState {
  readonly pid: number;
  readonly mcpUrl: string;
  readonly issuer: string;
  readonly tokenEndpoint: string;
  readonly auditFile: string;
  readonly startedAt: string;
}

export interface LocalStack {
  readonly door: DoorKind;
  /** What the dev output calls the emulated door. */
  readonly doorDescription: string;
  readonly mcpUrl: string;
  /** The local console (decisions, activity, playground) on the gateway's port; undefined when turned off. */
  readonly consoleUrl: string | undefined;
  readonly issuer: string;
  readonly auditFile: string;
  /** The demo orders server, when no `targets` were given. */
  readonly target: OrdersServer | undefined;
  readonly targets: readonly LocalTarget[];
  /** The identity assertions' issuer (the gateway URL) and the JWKS that verifies them. */
  readonly assertion: { readonly issuer: string; readonly header: string; readonly jwksUrl: string };
  /** The dev issuer, for tools and tests that need tokens with other claims. */
  readonly devIssuer: DevIssuer;
  readonly users: () => LocalUsers;
  readonly policies: () => PolicyBundle;
  token(user: string, ttlSeconds?: number): Promise<string>;
  /** Re-reads policies/; on failure keeps the previous ones and says why. */
  reloadPolicies(): { readonly ok: boolean; readonly message: string };
  stop(): Promise<void>;
}

/**
 * The whole request path on one machine, loopback only: dev issuer → a front door emulation (AgentCore Gateway
 * with its interceptor, or API Gateway with its authorizer and MCP proxy; local/doors.ts) running the same
 * handlers as in Lambda around one guard (local Cedar over policies/, JSONL audit) → the demo orders MCP server or
 * the operator's own (`targets`).
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const log = options.log ?? (() => undefined);
  const policyDir = resolve(options.policyDir);
  const dataDir = resolve(options.dataDir);
  const auditFile = join(dataDir, AUDIT_FILE);
  const stateFile = join(dataDir, STATE_FILE);
  let users = loadUsers(options.usersFile);
  let bundle = loadPolicyBundle(policyDir);
  mkdirSync(dataDir, { recursive: true });
  const running = runningStack(stateFile);
  if (running !== undefined) {
    throw new LocalStackError(
      `a local stack is already running with ${dataDir} (pid ${running.pid}, ${running.mcpUrl}): stop it, or give this one another --data folder`,
    );
  }

  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };

  try {
    // Closed last (stops run in reverse): requests still in flight while the gateway stops keep their records.
    const store = new JsonlAuditSink(auditFile);
    stops.push(() => store.close());
    const audit = recordingAuditSink(store);
    let target: OrdersServer | undefined;
    const targets: LocalTarget[] = [];
    if (options.targets === undefined || options.targets.length === 0) {
      const demo = await startOrdersServer();
      stops.push(() => demo.stop());
      target = demo;
      // The demo tools declare _caller_user/_caller_roles: they take the identity as arguments, as in AWS.
      targets.push({
        name: 'orders',
        url: demo.url,
        describe: 'demo orders server (local/orders-server.ts)',
        delivery: { arguments: true, assertion: false },
      });
    } else {
      for (const spec of options.targets) {
        log(`connecting target ${spec.name}…`);
        const bridge: BridgedTarget = await startTargetBridge(spec, {
          log,
          forwardHeaders: [DEFAULT_ASSERTION_HEADER],
        });
        stops.push(() => bridge.stop());
        // Your own servers get the signed assertion header, and the arguments when a tool declares them.
        targets.push({
          name: bridge.name,
          url: bridge.url,
          describe: bridge.describe,
          delivery: { arguments: true, assertion: true },
        });
      }
    }

    // The identity assertions' key: ephemeral, like the dev issuer's token keys (in AWS: the stack's KMS key).
    const assertionSigner = new LocalAssertionSigner();
    let issuerUrl = '';
    // The console reads the audit store the guard writes (never the guard's memory), on the gateway's own port.
    const localConsole =
      options.console === false
        ? undefined
        : createConsole({
            auditFile,
            policyDir,
            usersFile: options.usersFile,
            catalog: () => ({ users: Object.keys(users), tools: [...bundle.actions].sort() }),
            access: () => new FileAccessLedger(dataDir).list(),
          });
    const door: LocalDoor = await startLocalDoor(options.door ?? 'agentcore', {
      ...(localConsole === undefined ? {} : { routes: localConsole.handle }),
      port: options.port ?? 8080,
      ...(options.authorizerCacheTtlSeconds === undefined
        ? {}
        : { authorizerCacheTtlSeconds: options.authorizerCacheTtlSeconds }),
      targets: targets.map(({ name, url, delivery }) => ({
        name,
        url,
        ...(delivery.assertion ? { allowedRequestHeaders: [DEFAULT_ASSERTION_HEADER] } : {}),
      })),
      assertionJwks: () => assertionSigner.jwks(),
      authorizationServer: () => issuerUrl,
      // One line per request: the door's method, tool and status, then who, the decision and why (audited).
      onRequest: (line) => log(`${new Date().toISOString().slice(11, 19)}  ${line}${decisionSummary()}`),
    });
    stops.push(() => door.stop());
    // Streams end before the door stops, so its close does not wait for them.
    if (localConsole !== undefined) stops.push(() => localConsole.close());

    // The users file is read again whenever it changed (size, time or a replacing save), by every reader: the
    // issuer's token endpoint, stack.token() and users(). The watcher only makes a reload show in the log at
    // once. A broken edit keeps the previous users. (Tokens already issued keep the roles they were issued with:
    // the guard reads roles from the verified token, never from this file.)
    let usersStamp = fileStamp(options.usersFile);
    const currentUsers = (): LocalUsers => {
      const stamp = fileStamp(options.usersFile);
      if (stamp === usersStamp) return users;
      usersStamp = stamp;
      try {
        users = loadUsers(options.usersFile);
        log(`users reloaded: ${Object.keys(users).join(', ')}`);
      } catch (error) {
        log(`users file not reloaded, still using the previous users: ${(error as Error).message}`);
      }
      return users;
    };
    const issuer = await DevIssuer.start({
      port: options.issuerPort ?? 8081,
      users: () => currentUsers(),
      audience: door.url,
    });
    stops.push(() => issuer.stop());
    issuerUrl = issuer.issuer;

    const jwt = new JwtTokenVerifier(issuer.verifierSettings(door.url));
    await jwt.hydrate();
    // Just-in-time grants and the kill switch, from <data>/access.json (`npx mcp-identity grant|revoke`): one
    // cached read per subject serves both, so a revocation reaches this stack within accessTtlSeconds.
    const accessStore = new CachingAccessStore(new FileAccessLedger(dataDir), {
      ttlSeconds: options.accessTtlSeconds ?? 5,
    });
    const accessLog = new Logger({ serviceName: 'mcp-identity-local', logLevel: 'WARN' });
    const verifier = new GrantingVerifier(new CachingTokenVerifier(jwt), accessStore, accessLog);
    // One cache for the stack's life: a policy reload does not re-sign the assertions.
    const assertions = new AssertionCache(assertionSigner, { issuer: door.url, ttlSeconds: 300 });
    const delivery = identityDeliveryStep(
      {
        targets: new Map(targets.map((target) => [target.name, target.delivery])),
        assertionHeader: DEFAULT_ASSERTION_HEADER,
      },
      assertions,
    );
    // Pinned tool definitions: swapped on a policy reload, keeping what was seen drifting against unchanged pins.
    let pins = new ToolPins(bundle.toolPins, (tool) => reservedParameters(DEFAULT_INJECTION, tool));
    const pinGate = toolPinGate(() => pins);
    const diagnostics = new Logger({
      serviceName: 'mcp-identity-local',
      ...(process.env.POWERTOOLS_LOG_LEVEL ? {} : { logLevel: 'WARN' as const }),
    });

    const guardDeps = (policies: PolicyBundle): GuardDeps => ({
      verifier,
      // A short decision cache, as the Lambda has (there 30 s): the RESPONSE phase re-decides each call, and a
      // policy reload builds a new handler, so a changed policy still applies to the very next request.
      pdp: new CachingDecisionPoint(new CedarDecisionPoint(policies), {
        ttlSeconds: 5,
        maxEntries: 10_000,
      }),
      audit,
      log: diagnostics,
      settings: {
        model: { namespace: 'McpIdentity', resourceId: 'gateway', inputTypes: policies.inputTypes },
        injection: DEFAULT_INJECTION,
        mode: options.mode ?? 'enforce',
        catalog: policies.catalog,
        redaction: DEFAULT_REDACTION,
        audit: { eventSource: 'mcp-identity-local', recipientAccountId: '000000000000' },
        maxBodyBytes: 1024 * 1024,
        resourceMetadataUrl: door.resourceMetadataUrl,
      },
      forwardSteps: [delivery],
      gates: [revocationGate(accessStore), pinGate],
    });
    door.use(guardDeps(bundle));

    const reloadPolicies = () => {
      try {
        const next = loadPolicyBundle(policyDir);
        door.use(guardDeps(next));
        bundle = next;
        pins = pins.withPins(next.toolPins);
        return { ok: true, message: `policies reloaded: ${next.policies.length} policies, STRICT-valid` };
      } catch (error) {
        // A located error (file:line:column, then a caret excerpt) starts on its own line.
        const located = error instanceof PolicyFolderError;
        return {
          ok: false,
          message: `policy reload failed, still enforcing the previous policies:${located ? '\n' : ' '}${(error as Error).message}`,
        };
      }
    };

    let watcher: FSWatcher | undefined;
    if (options.watchPolicies ?? true) {
      let timer: NodeJS.Timeout | undefined;
      watcher = watch(policyDir, { recursive: true }, () => {
        clearTimeout(timer);
        timer = setTimeout(() => log(reloadPolicies().message), 250);
      });
      stops.push(async () => {
        clearTimeout(timer);
        watcher?.close();
      });
    }
    if (options.watchPolicies ?? true) {
      let timer: NodeJS.Timeout | undefined;
      // The folder, not the file: editors often save by writing a new file and renaming it over the old one.
      const usersWatcher = watch(dirname(resolve(options.usersFile)), (_event, name) => {
        if (name !== null && name !== basename(options.usersFile)) return;
        clearTimeout(timer);
        timer = setTimeout(currentUsers, 250);
      });
      stops.push(async () => {
        clearTimeout(timer);
        usersWatcher.close();
      });
    }

    const state: LocalStackState = {
      pid: process.pid,
      mcpUrl: door.url,
      issuer: issuer.issuer,
      tokenEndpoint: `${issuer.issuer}/token`,
      auditFile,
      startedAt: new Date().toISOString(),
    };
    writeFileSync(stateFile, `${JSON.stringify(state, null, 2)}\n`);
    // Only our own state file: another stack's (started after a crash of ours) is not ours to remove.
    stops.push(async () => {
      if (runningStack(stateFile)?.pid === process.pid) rmSync(stateFile, { force: true });
    });

    return {
      door: door.kind,
      doorDescription: door.describe,
      mcpUrl: door.url,
      consoleUrl: localConsole === undefined ? undefined : new URL(CONSOLE_PATH, door.url).href,
      issuer: issuer.issuer,
      auditFile,
      target,
      targets,
      assertion: { issuer: door.url, header: DEFAULT_ASSERTION_HEADER, jwksUrl: door.assertionJwksUrl },
      devIssuer: issuer,
      users: () => currentUsers(),
      policies: () => bundle,
      token: async (user, ttlSeconds = 900) => {
        const known = currentUsers()[user];
        if (known === undefined)
          throw new Error(`unknown user '${user}' (known: ${Object.keys(users).join(', ')})`);
        return issuer.sign(
          {
            sub: user,
            ...(known.email ? { email: known.email } : {}),
            roles: known.roles,
            aud: door.url,
            client_id: 'mcp-identity-local-agent',
          },
          { ttlSeconds },
        );
      },
      reloadPolicies,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** What changes when a file is edited or replaced: its inode, size and modification time ('' when missing). */
function fileStamp(path: string): string {
  const stat = statSync(path, { throwIfNoEntry: false });
  return stat === undefined ? '' : `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
}
