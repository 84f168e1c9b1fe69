import type { Caller } from './caller';
import type { McpOperation } from './mcp-operation';

/**
 * The Cedar request for an operation, as entity/context JSON in the one format both cedar-wasm and Verified
 * Permissions' `cedarJson` fields accept (uid/attrs/parents; `__entity`/`__extn` escapes).
 */

export interface EntityUid {
  readonly type: string;
  readonly id: string;
}

export type CedarValue =
  | string
  | number
  | boolean
  | readonly CedarValue[]
  | { readonly __entity: EntityUid }
  | { readonly __extn: { readonly fn: string; readonly arg: string } }
  | { readonly [key: string]: CedarValue };

export interface CedarEntity {
  readonly uid: EntityUid;
  readonly attrs: Readonly<Record<string, CedarValue>>;
  readonly parents: readonly EntityUid[];
}

export interface AuthorizationRequest {
  readonly principal: EntityUid;
  readonly action: EntityUid;
  readonly resource: EntityUid;
  readonly context: Readonly<Record<string, CedarValue>>;
  readonly entities: readonly CedarEntity[];
}

/** Cedar JSON-schema types (the resolved form), enough to type `context.input` from a tool's input schema. */
export type CedarType =
  | { readonly type: 'String' | 'Long' | 'Boolean' }
  | { readonly type: 'Set'; readonly element: CedarType }
  | {
      readonly type: 'Record';
      readonly attributes: Readonly<Record<string, CedarType & { readonly required?: boolean }>>;
    }
  | { readonly type: 'Entity'; readonly name: string }
  | { readonly type: 'Extension'; readonly name: string };

/** Names of the Cedar model (DESIGN §3.3). */
export interface CedarModel {
  /** Cedar namespace of every type and action. @default 'McpIdentity' */
  readonly namespace: string;
  /** Id of the `Gateway` resource entity (the gateway or API this interceptor guards). */
  readonly resourceId: string;
  /** Resolved `context.input` type per action id, when known: drives typed conversion of arguments. */
  readonly inputTypes?: Readonly<Record<string, CedarType>>;
}

/** Action ids of the non-tool operations that go through policy (prompts and resources). */
export const PROMPT_ACTION = 'prompts/get';
export const RESOURCE_ACTION = 'resources/read';

/** The value could not be expressed in Cedar (float where a Long is declared, `__entity` smuggled in, …). */
export class ArgumentConversionError extends Error {}

const RESERVED_CEDAR_KEYS = new Set(['__entity', '__extn', '__expr']);

function isRecord(value: unknown): value is Record<string, unknown> {
  // Stryker disable next-line ConditionalExpression: toCedarValue turns null into "absent" before any isRecord call
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Cedar decimals: up to 4 fractional digits, within ±922337203685477.5807. */
function toDecimal(value: number, path: string): CedarValue {
  const text = value.toString();
  const match = /^-?\d+(\.\d{1,4})?$/.exec(text);
  if (match === null || Math.abs(value) > 922337203685477) {
    throw new ArgumentConversionError(`${path}: ${text} is not a Cedar decimal (at most 4 decimal places)`);
  }
  return { __extn: { fn: 'decimal', arg: match[1] === undefined ? `${text}.0` : text } };
}

/**
 * Converts a JSON argument to a Cedar value. With a declared type the conversion follows it (integers for a
 * decimal field become decimals, enum entities become entity references); without one it is structural.
 * JSON `null` has no Cedar value: the attribute is left out, so policies see it as absent (`has` is false).
 */
export function toCedarValue(
  value: unknown,
  type: CedarType | undefined,
  path = 'input',
): CedarValue | undefined {
  if (value === null || value === undefined) return undefined;
  if (type !== undefined) return typedValue(value, type, path);
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : toDecimal(value, path);
  if (Array.isArray(value)) {
    return value.flatMap((item, index) => {
      const converted = toCedarValue(item, undefined, `${path}[${index}]`);
      return converted === undefined ? [] : [converted];
    });
  }
  if (isRecord(value)) {
    const record: Record<string, CedarValue> = {};
    for (const [key, item] of Object.entries(value)) {
      if (RESERVED_CEDAR_KEYS.has(key))
        throw new ArgumentConversionError(`${path}: the key '${key}' is reserved by Cedar`);
      const converted = toCedarValue(item, undefined, `${path}.${key}`);
      if (converted !== undefined) record[key] = converted;
    }
    return record;
  }
  throw new ArgumentConversionError(`${path}: unsupported value`);
}

function describeJson(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a number';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

// A module function, not a closure made per converted value: this runs for every argument of every call.
function mismatch(path: string, expected: string, value: unknown): ArgumentConversionError {
  return new ArgumentConversionError(`${path}: expected ${expected}, got ${describeJson(value)}`);
}

/**
 * Conversion against the declared type: the mismatch is named here, in the caller's terms ("input.order_id:
 * expected a string, got an integer"), instead of surfacing later as an engine validation failure.
 */
function typedValue(value: unknown, type: CedarType, path: string): CedarValue | undefined {
  switch (type.type) {
    case 'String':
      if (typeof value !== 'string') throw mismatch(path, 'a string', value);
      return value;
    case 'Boolean':
      if (typeof value !== 'boolean') throw mismatch(path, 'true or false', value);
      return value;
    case 'Long':
      if (typeof value !== 'number' || !Number.isSafeInteger(value))
        throw mismatch(path, 'an integer', value);
      return value;
    case 'Extension':
      if (type.name !== 'decimal')
        throw new ArgumentConversionError(
          `${path}: the ${type.name} extension type is not supported in tool arguments`,
        );
      if (typeof value !== 'number') throw mismatch(path, 'a number', value);
      return toDecimal(value, path);
    case 'Entity':
      if (typeof value !== 'string') throw mismatch(path, 'a string', value);
      return { __entity: { type: type.name, id: value } };
    case 'Set':
      if (!Array.isArray(value)) throw mismatch(path, 'a list', value);
      return value.flatMap((item, index) => {
        const converted = toCedarValue(item, type.element, `${path}[${index}]`);
        return converted === undefined ? [] : [converted];
      });
    case 'Record': {
      if (!isRecord(value)) throw mismatch(path, 'an object', value);
      const record: Record<string, CedarValue> = {};
      for (const [key, item] of Object.entries(value)) {
        if (RESERVED_CEDAR_KEYS.has(key))
          throw new ArgumentConversionError(`${path}: the key '${key}' is reserved by Cedar`);
        const attribute = type.attributes[key];
        if (attribute === undefined)
          throw new ArgumentConversionError(`${path}.${key} is not a parameter of this tool`);
        const converted = toCedarValue(item, attribute, `${path}.${key}`);
        if (converted !== undefined) record[key] = converted;
      }
      for (const [key, attribute] of Object.entries(type.attributes)) {
        if (attribute.required !== false && record[key] === undefined)
          throw new ArgumentConversionError(`${path}.${key} is required`);
      }
      return record;
    }
  }
}

export function principalOf(caller: Caller, model: CedarModel): EntityUid {
  return { type: `${model.namespace}::User`, id: caller.subject };
}

/** The principal entity (attributes from claims) and one `Role` entity per role, its parents. */
export function callerEntities(caller: Caller, model: CedarModel): CedarEntity[] {
  const roles = caller.roles.map((role) => ({ type: `${model.namespace}::Role`, id: role }));
  const attrs: Record<string, CedarValue> = {};
  if (caller.email !== undefined) attrs.email = caller.email;
  if (caller.username !== undefined) attrs.username = caller.username;
  return [
    { uid: principalOf(caller, model), attrs, parents: roles },
    ...roles.map((uid) => ({ uid, attrs: {}, parents: [] })),
  ];
}

/** Agent, delegation chain and token facts: the context every action shares (schema type `CallContext`). */
function callContext(caller: Caller): Record<string, CedarValue> {
  const context: Record<string, CedarValue> = {
    actors: [...caller.actors],
    token: {
      expiresAt: caller.expiresAt,
      ...(caller.issuedAt === undefined ? {} : { issuedAt: caller.issuedAt }),
      ...(caller.tokenId === undefined ? {} : { id: caller.tokenId }),
    },
  };
  if (caller.agent !== undefined) context.agent = caller.agent;
  return context;
}

/** What every request of one caller shares under one model: built once per verified caller, frozen. */
interface CallerParts {
  readonly model: CedarModel;
  readonly principal: EntityUid;
  readonly resource: EntityUid;
  readonly entities: readonly CedarEntity[];
  readonly context: Readonly<Record<string, CedarValue>>;
}

/**
 * Per verified caller (the verified-caller cache hands the same object to every request made with one token),
 * so a cache hit and a tools/list of N tools do not rebuild the principal's entities N times. The parts are
 * deeply frozen: requests share them, and a consumer that tried to change one would throw, not leak the change
 * into another request (a frozen part is also what lets the decision cache keep its JSON text).
 */
const partsByCaller = new WeakMap<Caller, CallerParts>();

/** The parts above: frozen all the way down, so their JSON text can be kept (see {@link isSharedPart}). */
const sharedParts = new WeakSet<object>();

/** Whether a request part is one of the deeply frozen caller parts (which no one can change). */
export function isSharedPart(value: object): boolean {
  return sharedParts.has(value);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}

function callerParts(caller: Caller, model: CedarModel): CallerParts {
  const known = partsByCaller.get(caller);
  if (known !== undefined && known.model === model) return known;
  const parts = deepFreeze({
    principal: principalOf(caller, model),
    resource: { type: `${model.namespace}::Gateway`, id: model.resourceId },
    entities: callerEntities(caller, model),
    context: callContext(caller),
  });
  // The model itself is not frozen (it is the caller's object): it is compared by identity only.
  for (const part of Object.values(parts)) sharedParts.add(part);
  const withModel: CallerParts = { ...parts, model };
  partsByCaller.set(caller, withModel);
  return withModel;
}

export type PolicyOperation = Extract<McpOperation, { kind: 'tool-call' | 'prompt-get' | 'resource-read' }>;

/**
 * The Cedar request for one operation: one action per tool named like the tool with `context.input` holding
 * the client's arguments; prompts and resources have one action each with the name/uri in context.
 * Throws {@link ArgumentConversionError} when arguments cannot be expressed in Cedar.
 */
export function authorizationRequest(
  caller: Caller,
  operation: PolicyOperation,
  model: CedarModel,
): AuthorizationRequest {
  const { principal, resource, entities, context } = callerParts(caller, model);
  const base = { principal, resource, entities };
  switch (operation.kind) {
    case 'tool-call': {
      const input = toCedarValue(operation.arguments, model.inputTypes?.[operation.tool.full]) ?? {};
      return { ...base, action: actionOf(model, operation.tool.full), context: { ...context, input } };
    }
    case 'prompt-get':
      return {
        ...base,
        action: actionOf(model, PROMPT_ACTION),
        context: { ...context, name: operation.name },
      };
    case 'resource-read':
      return {
        ...base,
        action: actionOf(model, RESOURCE_ACTION),
        context: { ...context, uri: operation.uri },
      };
  }
}

/**
 * The request used to ask "could some input to this tool be allowed?" for `tools/list`: the same principal,
 * action and resource, with `context.input` left out. How it is answered is the decision point's business
 * (partial evaluation locally; a documented convention on Verified Permissions).
 */
export function discoveryRequest(caller: Caller, toolName: string, model: CedarModel): AuthorizationRequest {
  const { principal, resource, entities, context } = callerParts(caller, model);
  return { principal, action: actionOf(model, toolName), resource, context, entities };
}

function actionOf(model: CedarModel, id: string): EntityUid {
  return { type: `${model.namespace}::Action`, id };
}
