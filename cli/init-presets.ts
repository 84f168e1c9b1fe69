import {
  type Answers,
  AWS_REGION,
  bareHost,
  type Field,
  GUID,
  hostName,
  httpsUrl,
  listOf,
  noSpaces,
} from './init-fields';

/**
 * Identity provider presets for `mcp-identity init`, as data: the questions each provider needs and the
 * `identity` configuration its answers make (issuer and discovery URL shape, audience, client check, claims).
 * Why each value is what it is — the provider's quirks — is in docs/identity-providers.md; `notes` are the
 * one-line reminders init prints after writing the file.
 */

export const IDP_IDS = ['cognito', 'okta', 'entra', 'auth0', 'keycloak', 'teleport', 'oidc'] as const;
export type IdpId = (typeof IDP_IDS)[number];

/** The `identity` object of the configuration (lib/config.ts), as written to the file. */
export interface IdentityAnswer {
  readonly issuer: string;
  readonly discoveryUrl: string;
  readonly jwksUri?: string;
  readonly audience: readonly string[];
  readonly allowedClients?: readonly string[];
  readonly requiredClaims?: readonly { name: string; match: 'EQUALS'; values: [string] }[];
  readonly algorithms: readonly string[];
  readonly claims: {
    readonly subject: string;
    readonly roles: string;
    readonly email: string;
    readonly username: readonly string[];
    readonly agent: readonly string[];
  };
}

export interface IdpPreset {
  readonly id: IdpId;
  readonly label: string;
  /** The provider's own questions; the claim questions common to all follow ({@link claimFields}). */
  readonly fields: readonly Field[];
  /** Default subject and roles claims, before the user overrides them. */
  readonly subjectClaim: string;
  readonly rolesClaim: (answers: Answers) => string | undefined;
  readonly identity: (answers: Answers) => IdentityAnswer;
  /** Reminders printed after writing: what to set up at the provider for tokens to pass. */
  readonly notes: (answers: Answers) => readonly string[];
}

const DISCOVERY = '/.well-known/openid-configuration';
const discoveryOf = (issuer: string) => `${issuer.replace(/\/+$/, '')}${DISCOVERY}`;
const answer = (answers: Answers, id: string): string => (answers[id] ?? '').trim();

/** The claim names every preset may override: `--subject-claim`, `--roles-claim`. */
export function claimFields(preset: IdpPreset): Field[] {
  return [
    {
      id: 'subjectClaim',
      message: 'Claim that holds the stable user id (the Cedar principal)',
      hint: `claim name (default for ${preset.id}: ${preset.subjectClaim})`,
      default: () => preset.subjectClaim,
      check: noSpaces,
    },
    {
      id: 'rolesClaim',
      message: 'Claim that holds the roles or groups (dots reach into objects)',
      hint: 'claim name, e.g. groups or realm_access.roles',
      default: (answers) => preset.rolesClaim(answers),
      check: noSpaces,
    },
  ];
}

const audienceField = (message: string, hint: string, options: Partial<Field> = {}): Field => ({
  id: 'audience',
  message,
  hint,
  list: true,
  check: (value: string) => listOf(value).map(noSpaces).find(Boolean),
  ...options,
});

const cognito: IdpPreset = {
  id: 'cognito',
  label: 'Amazon Cognito user pool',
  fields: [
    {
      id: 'region',
      message: 'AWS Region of the user pool',
      hint: 'e.g. eu-west-1',
      check: (value) => (AWS_REGION.test(value) ? undefined : 'an AWS Region such as eu-west-1'),
    },
    {
      id: 'userPoolId',
      message: 'User pool id',
      hint: 'e.g. eu-west-1_AbCdEf123',
      check: (value, answers) => {
        const match = /^([a-z]{2}(?:-[a-z]+)+-\d+)_[0-9A-Za-z]+$/.exec(value);
        if (match === null) return 'a user pool id such as eu-west-1_AbCdEf123';
        return match[1] === answer(answers, 'region')
          ? undefined
          : `belongs to ${match[1]}, not to the Region ${answer(answers, 'region')}`;
      },
    },
    {
      id: 'tokenUse',
      message: 'Which Cognito token will clients send?',
      hint: 'access or id',
      choices: [
        {
          value: 'access',
          name: 'access tokens with a resource indicator (recommended)',
          description:
            'Managed login on the Essentials or Plus plan: the client asks for resource=<gateway URL> and the access token carries aud=<that URL>',
        },
        {
          value: 'id',
          name: 'ID tokens',
          description:
            'aud is the app client id; ID tokens carry profile claims and are meant for the client app',
        },
      ],
      default: () => 'access',
    },
    {
      id: 'clientId',
      message: 'App client id(s) the agents use (comma-separated)',
      hint: 'Cognito app client ids, comma-separated',
      list: true,
      check: (value) =>
        listOf(value).every((id) => /^[\w+]{1,128}$/.test(id))
          ? undefined
          : 'Cognito app client ids (letters, digits)',
    },
    audienceField(
      'Resource (audience) the access tokens are issued for: the gateway URL clients ask for',
      'the resource indicator, e.g. https://mcp.example.com/mcp',
      {
        when: (answers) => answer(answers, 'tokenUse') !== 'id',
        whenNot: 'with --token-use id: the audience of ID tokens is the app client id (--client-id)',
        check: (value) => listOf(value).map(httpsUrl).find(Boolean),
      },
    ),
  ],
  subjectClaim: 'sub',
  rolesClaim: () => 'cognito:groups',
  identity: (answers) => {
    const issuer = `https://cognito-idp.${answer(answers, 'region')}.amazonaws.com/${answer(answers, 'userPoolId')}`;
    const clients = listOf(answers.clientId);
    const idTokens = answer(answers, 'tokenUse') === 'id';
    return {
      issuer,
      discoveryUrl: discoveryOf(issuer),
      // ID tokens: aud = the app client id. Access tokens have no aud unless the client asked for a resource
      // (RFC 8707), and then aud = that resource; client_id names the app client either way.
      audience: idTokens ? clients : listOf(answers.audience),
      ...(idTokens ? {} : { allowedClients: clients }),
      requiredClaims: [{ name: 'token_use', match: 'EQUALS', values: [idTokens ? 'id' : 'access'] }],
      algorithms: ['RS256'],
      claims: {
        subject: answer(answers, 'subjectClaim'),
        roles: answer(answers, 'rolesClaim'),
        email: 'email',
        username: idTokens ? ['cognito:username'] : ['username'],
        agent: idTokens ? ['aud'] : ['client_id'],
      },
    };
  },
  notes: (answers) =>
    answer(answers, 'tokenUse') === 'id'
      ? [
          'Cognito: clients send the ID token; its aud is the app client id. Access tokens (no aud) are refused.',
        ]
      : [
          'Cognito: resource indicators need managed login on the Essentials or Plus plan; the client adds resource=<audience> to /oauth2/authorize and /oauth2/token. An access token without aud is refused.',
        ],
};

const okta: IdpPreset = {
  id: 'okta',
  label: 'Okta (custom authorization server)',
  fields: [
    {
      id: 'domain',
      message: 'Okta domain',
      hint: 'e.g. dev-123456.okta.com or login.example.com',
      check: (value) => hostName(bareHost(value)),
    },
    {
      id: 'authServer',
      message: 'Custom authorization server id ("default" for the default one)',
      hint: 'authorization server id, e.g. default or aus1a2b3c4d5e6f7g8h9',
      default: () => 'default',
      check: (value) =>
        /^[A-Za-z0-9]+$/.test(value)
          ? undefined
          : 'an authorization server id (letters and digits); the org server cannot be used: its access tokens are for Okta APIs only',
    },
    audienceField("Audience of the authorization server's access tokens", 'e.g. api://default', {
      default: (answers) => (answer(answers, 'authServer') === 'default' ? 'api://default' : undefined),
    }),
  ],
  subjectClaim: 'uid',
  rolesClaim: () => 'groups',
  identity: (answers) => {
    const issuer = `https://${bareHost(answer(answers, 'domain'))}/oauth2/${answer(answers, 'authServer')}`;
    return {
      issuer,
      discoveryUrl: discoveryOf(issuer),
      audience: listOf(answers.audience),
      algorithms: ['RS256'],
      claims: {
        subject: answer(answers, 'subjectClaim'),
        roles: answer(answers, 'rolesClaim'),
        email: 'email',
        // In Okta access tokens, sub is the user's login (it can change); uid is the user's id.
        username: ['sub'],
        agent: ['cid'],
      },
    };
  },
  notes: () => [
    'Okta: add a "groups" claim to the authorization server (Security › API › Claims: access token, value type Groups, a filter such as Matches regex .*); access tokens have none by default.',
  ],
};

const entra: IdpPreset = {
  id: 'entra',
  label: 'Microsoft Entra ID (v2 tokens)',
  fields: [
    {
      id: 'tenantId',
      message: 'Directory (tenant) id',
      hint: 'a GUID (not common or organizations)',
      check: (value) =>
        GUID.test(value)
          ? undefined
          : 'the directory (tenant) id GUID; common/organizations name no single issuer',
    },
    audienceField(
      'Application (client) id of the API app registration (v2 access tokens carry it as aud)',
      "the API app's application (client) id GUID",
      {
        check: (value) =>
          listOf(value).every((id) => GUID.test(id))
            ? undefined
            : 'the application (client) id GUID: v2 access tokens carry it as aud, not the api:// App ID URI',
      },
    ),
    {
      id: 'appTokens',
      message: 'App-only tokens (client credentials: an application acting for itself, no user)',
      hint: 'refuse (default: the gateway requires idtyp = user) or allow',
      choices: [
        {
          value: 'refuse',
          name: 'refuse them at the gateway: require idtyp = user (recommended)',
          description:
            'Add the idtyp optional claim to access tokens in the API app registration, or every token is refused',
        },
        {
          value: 'allow',
          name: 'allow them: policies decide what a service principal may do',
          description:
            'An app-only token carries roles (application permissions) and oid = the service principal',
        },
      ],
      default: () => 'refuse',
    },
  ],
  subjectClaim: 'oid',
  rolesClaim: () => 'roles',
  identity: (answers) => {
    const issuer = `https://login.microsoftonline.com/${answer(answers, 'tenantId').toLowerCase()}/v2.0`;
    return {
      issuer,
      discoveryUrl: discoveryOf(issuer),
      audience: listOf(answers.audience).map((id) => id.toLowerCase()),
      // An app-only token has oid (the service principal), roles (application permissions) and azp like a
      // user's, so without this check it passes as a "user" holding those roles. idtyp is the documented way
      // to tell them apart; it is an optional claim, so the note says to turn it on.
      ...(answer(answers, 'appTokens') === 'allow'
        ? {}
        : { requiredClaims: [{ name: 'idtyp', match: 'EQUALS' as const, values: ['user'] as [string] }] }),
      algorithms: ['RS256'],
      claims: {
        subject: answer(answers, 'subjectClaim'),
        roles: answer(answers, 'rolesClaim'),
        email: 'email',
        username: ['preferred_username'],
        agent: ['azp'],
      },
    };
  },
  notes: (answers) => [
    ...(answer(answers, 'appTokens') === 'allow'
      ? [
          'Entra ID: app-only tokens pass the gateway (--app-tokens allow): their oid is a service principal and their roles are application permissions; write policies that give such principals nothing they should not have.',
        ]
      : [
          'Entra ID: the gateway requires idtyp = user. In the API app registration add the optional claim idtyp to access tokens (Token configuration › Add optional claim › Access › idtyp, or "optionalClaims": { "accessToken": [{ "name": "idtyp" }] } in the manifest), or every token is refused. App-only tokens then carry idtyp = app and are refused. --app-tokens allow drops the check.',
        ]),
    'Entra ID: set "accessTokenAcceptedVersion": 2 (requestedAccessTokenVersion in the API object) in the API app\'s manifest, or tokens come as v1 with issuer https://sts.windows.net/<tenant>/ and are refused.',
    "Entra ID: roles come from app roles assigned to users or groups; oid is the user's id in the tenant (sub differs per application).",
  ],
};

const auth0: IdpPreset = {
  id: 'auth0',
  label: 'Auth0',
  fields: [
    {
      id: 'domain',
      message: 'Auth0 domain (tenant or custom domain)',
      hint: 'e.g. example.eu.auth0.com',
      check: (value) => hostName(bareHost(value)),
    },
    audienceField(
      'API identifier (the audience clients request)',
      'the API identifier, e.g. https://mcp.example.com',
    ),
  ],
  subjectClaim: 'sub',
  // Auth0 puts custom claims where an Action sets them; a URL namespace avoids clashes (and auth0.com is refused).
  rolesClaim: (answers) => {
    const first = listOf(answers.audience)[0];
    return first !== undefined && /^https?:\/\//.test(first)
      ? `${first.replace(/\/+$/, '')}/roles`
      : undefined;
  },
  identity: (answers) => {
    // Auth0's issuer ends with a slash, and tokens must match it exactly.
    const issuer = `https://${bareHost(answer(answers, 'domain'))}/`;
    return {
      issuer,
      discoveryUrl: discoveryOf(issuer),
      audience: listOf(answers.audience),
      algorithms: ['RS256'],
      claims: {
        subject: answer(answers, 'subjectClaim'),
        roles: answer(answers, 'rolesClaim'),
        email: 'email',
        username: ['nickname', 'name'],
        agent: ['azp'],
      },
    };
  },
  notes: (answers) => [
    `Auth0: add a post-login Action that sets the roles claim: api.accessToken.setCustomClaim('${answer(answers, 'rolesClaim')}', event.authorization?.roles ?? []).`,
    'Auth0: clients must ask for audience=<API identifier>; without it Auth0 issues an opaque token that is refused.',
  ],
};

const keycloak: IdpPreset = {
  id: 'keycloak',
  label: 'Keycloak',
  fields: [
    {
      id: 'url',
      message: 'Keycloak base URL (with /auth for Keycloak 16 and older)',
      hint: 'e.g. https://keycloak.example.com',
      check: httpsUrl,
    },
    {
      id: 'realm',
      message: 'Realm',
      hint: 'realm name',
      check: (value) => (/^[^\s/?#]+$/.test(value) ? undefined : 'a realm name (no spaces or /)'),
    },
    audienceField(
      'Audience: the client id an Audience mapper adds to access tokens',
      'the audience an Audience mapper adds, e.g. mcp-gateway',
    ),
  ],
  subjectClaim: 'sub',
  rolesClaim: () => 'realm_access.roles',
  identity: (answers) => {
    const issuer = `${answer(answers, 'url').replace(/\/+$/, '')}/realms/${encodeURIComponent(answer(answers, 'realm'))}`;
    return {
      issuer,
      discoveryUrl: discoveryOf(issuer),
      audience: listOf(answers.audience),
      algorithms: ['RS256', 'ES256'],
      claims: {
        subject: answer(answers, 'subjectClaim'),
        roles: answer(answers, 'rolesClaim'),
        email: 'email',
        username: ['preferred_username'],
        agent: ['azp'],
      },
    };
  },
  notes: (answers) => [
    `Keycloak: access tokens carry aud only through an Audience mapper (client scope › Add mapper › Audience, included client audience ${listOf(answers.audience)[0] ?? ''}, add to access token).`,
    'Keycloak 25+: keep the "basic" client scope on the client, or access tokens have no sub.',
  ],
};

const teleport: IdpPreset = {
  id: 'teleport',
  label: 'Teleport (application access JWT)',
  fields: [
    {
      id: 'proxy',
      message: 'Teleport proxy address',
      hint: 'host[:port] of the proxy, e.g. teleport.example.com',
      check: (value) => hostName(bareHost(value)),
    },
    {
      id: 'clusterName',
      message: 'Cluster name (the iss of its JWTs)',
      hint: 'the Teleport cluster name (default: the proxy host)',
      default: (answers) => bareHost(answer(answers, 'proxy')).replace(/:\d+$/, '') || undefined,
      check: noSpaces,
    },
    audienceField(
      'Audience: the URI of the Teleport application in front of the gateway',
      'the app URI Teleport puts in aud',
    ),
  ],
  subjectClaim: 'sub',
  rolesClaim: () => 'roles',
  identity: (answers) => {
    const proxy = `https://${bareHost(answer(answers, 'proxy'))}`;
    return {
      // Teleport's JWTs name the cluster, not a URL, as iss; their keys are at the proxy's jwks.json (the
      // discovery document there describes another key set), so the interceptor gets jwksUri directly.
      issuer: answer(answers, 'clusterName'),
      discoveryUrl: `${proxy}${DISCOVERY}`,
      jwksUri: `${proxy}/.well-known/jwks.json`,
      audience: listOf(answers.audience),
      algorithms: ['RS256'],
      claims: {
        subject: answer(answers, 'subjectClaim'),
        roles: answer(answers, 'rolesClaim'),
        email: 'email',
        username: ['username'],
        agent: ['client_id', 'azp'],
      },
    };
  },
  notes: () => [
    "Teleport: iss is the cluster name, not the discovery document's issuer. The interceptor verifies with jwksUri; whether AgentCore's authorizer accepts such tokens is untested — the API Gateway door (doors.apiGateway) uses our verifier alone.",
  ],
};

const oidc: IdpPreset = {
  id: 'oidc',
  label: 'Another OIDC provider',
  fields: [
    {
      id: 'issuer',
      message: 'Issuer (exactly as in the tokens and the discovery document, trailing slash included)',
      hint: 'the iss value, e.g. https://idp.example.com',
      check: httpsUrl,
    },
    audienceField('Audience the access tokens carry (aud)', 'the aud value(s)'),
  ],
  subjectClaim: 'sub',
  rolesClaim: () => 'roles',
  identity: (answers) => ({
    issuer: answer(answers, 'issuer'),
    discoveryUrl: discoveryOf(answer(answers, 'issuer')),
    audience: listOf(answers.audience),
    algorithms: ['RS256', 'ES256'],
    claims: {
      subject: answer(answers, 'subjectClaim'),
      roles: answer(answers, 'rolesClaim'),
      email: 'email',
      username: ['username', 'preferred_username'],
      agent: ['client_id', 'azp'],
    },
  }),
  notes: () => [],
};

export const PRESETS: Readonly<Record<IdpId, IdpPreset>> = {
  cognito,
  okta,
  entra,
  auth0,
  keycloak,
  teleport,
  oidc,
};
