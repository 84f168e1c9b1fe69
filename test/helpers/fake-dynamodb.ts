import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sigV4Problems } from './sigv4';

/**
 * A loopback stand-in for DynamoDB (JSON 1.0 protocol, API version 2012-08-10) serving the four operations
 * the delivered-UID ledger uses: PutItem, UpdateItem, DeleteItem and GetItem on one table keyed by a string
 * partition key. Every request is checked against the documented request shapes (operation members, required
 * members, the key schema, typed attribute values, expression names and values all defined and all used, the
 * enums) and its SigV4 signature; condition and update expressions of the subset we write are evaluated for
 * real. Scripted faults: HTTP errors, throttling, dropped connections before and after the write is applied.
 */

type AttributeValue = Record<string, unknown>;
type Item = Record<string, AttributeValue>;

export type DynamoBehavior =
  | { kind: 'ok' }
  | { kind: 'status'; status: number; code: string }
  /** The connection drops before the write is applied. */
  | { kind: 'drop' }
  /** The write is applied, then the connection drops: the answer is lost. */
  | { kind: 'commit-drop' };

const MEMBERS: Record<string, { required: string[]; allowed: string[] }> = {
  PutItem: {
    required: ['TableName', 'Item'],
    allowed: [
      'TableName',
      'Item',
      'ConditionExpression',
      'ConditionalOperator',
      'Expected',
      'ExpressionAttributeNames',
      'ExpressionAttributeValues',
      'ReturnConsumedCapacity',
      'ReturnItemCollectionMetrics',
      'ReturnValues',
      'ReturnValuesOnConditionCheckFailure',
    ],
  },
  UpdateItem: {
    required: ['TableName', 'Key'],
    allowed: [
      'TableName',
      'Key',
      'AttributeUpdates',
      'ConditionExpression',
      'ConditionalOperator',
      'Expected',
      'ExpressionAttributeNames',
      'ExpressionAttributeValues',
      'ReturnConsumedCapacity',
      'ReturnItemCollectionMetrics',
      'ReturnValues',
      'ReturnValuesOnConditionCheckFailure',
      'UpdateExpression',
    ],
  },
  DeleteItem: {
    required: ['TableName', 'Key'],
    allowed: [
      'TableName',
      'Key',
      'ConditionExpression',
      'ConditionalOperator',
      'Expected',
      'ExpressionAttributeNames',
      'ExpressionAttributeValues',
      'ReturnConsumedCapacity',
      'ReturnItemCollectionMetrics',
      'ReturnValues',
      'ReturnValuesOnConditionCheckFailure',
    ],
  },
  GetItem: {
    required: ['TableName', 'Key'],
    allowed: [
      'TableName',
      'Key',
      'AttributesToGet',
      'ConsistentRead',
      'ExpressionAttributeNames',
      'ProjectionExpression',
      'ReturnConsumedCapacity',
    ],
  },
};
const TYPES = ['S', 'N', 'B', 'SS', 'NS', 'BS', 'M', 'L', 'NULL', 'BOOL'];

class ValidationError extends Error {}

export class FakeDynamoDb {
  readonly violations: string[] = [];
  readonly items = new Map<string, Item>();
  readonly calls = new Map<string, number>();
  requests = 0;
  url = '';
  private server: Server | undefined;

  constructor(
    private readonly region: string,
    readonly tableName: string,
    readonly key: string,
    private readonly behavior: (operation: string, request: number) => DynamoBehavior = () => ({
      kind: 'ok',
    }),
  ) {}

  async start(): Promise<this> {
    this.server = createServer((request, response) => {
      this.handle(request)
        .then((answer) => {
          if (answer === 'drop') {
            request.socket.destroy();
            return;
          }
          response.writeHead(answer.status, { 'Content-Type': 'application/x-amz-json-1.0' });
          response.end(JSON.stringify(answer.body));
        })
        .catch((error) => {
          this.violations.push(`server error: ${(error as Error).message}`);
          response.writeHead(500).end();
        });
    });
    const server = this.server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  private error(status: number, code: string, message: string, extra: object = {}) {
    return { status, body: { __type: `com.amazonaws.dynamodb.v20120810#${code}`, message, ...extra } };
  }

  private async handle(request: IncomingMessage): Promise<{ status: number; body: unknown } | 'drop'> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    this.requests += 1;
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    if (request.method !== 'POST' || url.pathname !== '/')
      this.violations.push(`${request.method} ${url.pathname}`);
    if (request.headers['content-type'] !== 'application/x-amz-json-1.0')
      this.violations.push(`content-type ${request.headers['content-type']}`);
    this.violations.push(...(await sigV4Problems(request, url, raw, this.region, 'dynamodb')));
    const target = String(request.headers['x-amz-target'] ?? '');
    const operation = target.startsWith('DynamoDB_20120810.')
      ? target.slice('DynamoDB_20120810.'.length)
      : '';
    const members = MEMBERS[operation];
    if (members === undefined) {
      this.violations.push(`unsupported target ${target}`);
      return this.error(400, 'UnknownOperationException', target);
    }
    this.calls.set(operation, (this.calls.get(operation) ?? 0) + 1);
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      this.violations.push('body is not JSON');
      return this.error(400, 'SerializationException', 'not JSON');
    }
    try {
      this.validate(operation, members, input);
    } catch (error) {
      this.violations.push(`${operation}: ${(error as Error).message}`);
      return this.error(400, 'ValidationException', (error as Error).message);
    }

    const behavior = this.behavior(operation, this.requests);
    if (behavior.kind === 'drop') return 'drop';
    if (behavior.kind === 'status')
      return this.error(behavior.status, behavior.code, `injected ${behavior.code}`);
    const answer = this.apply(operation, input);
    return behavior.kind === 'commit-drop' ? 'drop' : answer;
  }

  private validate(
    operation: string,
    members: { required: string[]; allowed: string[] },
    input: Record<string, unknown>,
  ) {
    for (const name of Object.keys(input))
      if (!members.allowed.includes(name)) throw new ValidationError(`unknown member ${name}`);
    for (const name of members.required)
      if (input[name] === undefined) throw new ValidationError(`missing ${name}`);
    if (input.TableName !== this.tableName) throw new ValidationError(`no table ${String(input.TableName)}`);
    const record = (input.Item ?? input.Key) as Item;
    if (typeof record?.[this.key]?.S !== 'string')
      throw new ValidationError(`key ${this.key} must be a string`);
    if (input.Key !== undefined && Object.keys(input.Key as object).length !== 1)
      throw new ValidationError('Key must hold exactly the key schema');
    for (const value of Object.values(record)) checkValue(value);
    for (const value of Object.values((input.ExpressionAttributeValues ?? {}) as Item)) checkValue(value);
    const enums: Record<string, string[]> = {
      ReturnValuesOnConditionCheckFailure: ['ALL_OLD', 'NONE'],
      ReturnValues: ['NONE', 'ALL_OLD', 'UPDATED_OLD', 'ALL_NEW', 'UPDATED_NEW'],
    };
    for (const [name, allowed] of Object.entries(enums))
      if (input[name] !== undefined && !allowed.includes(String(input[name])))
        throw new ValidationError(`${name} must be one of ${allowed.join(', ')}`);
    if (input.ConsistentRead !== undefined && typeof input.ConsistentRead !== 'boolean')
      throw new ValidationError('ConsistentRead must be a boolean');
    // Every placeholder used is defined, and every one defined is used (DynamoDB refuses both).
    const expressions = [input.ConditionExpression, input.UpdateExpression, input.ProjectionExpression]
      .filter((expression): expression is string => typeof expression === 'string')
      .join(' ');
    const names = (input.ExpressionAttributeNames ?? {}) as Record<string, string>;
    const values = (input.ExpressionAttributeValues ?? {}) as Item;
    for (const used of expressions.match(/#\w+/g) ?? [])
      if (names[used] === undefined) throw new ValidationError(`undefined attribute name ${used}`);
    for (const used of expressions.match(/:\w+/g) ?? [])
      if (values[used] === undefined) throw new ValidationError(`undefined attribute value ${used}`);
    for (const defined of Object.keys(names))
      if (!new RegExp(`${defined}\\b`).test(expressions))
        throw new ValidationError(
          `Value provided in ExpressionAttributeNames unused in expressions: ${defined}`,
        );
    for (const defined of Object.keys(values))
      if (!new RegExp(`${defined}\\b`).test(expressions))
        throw new ValidationError(
          `Value provided in ExpressionAttributeValues unused in expressions: ${defined}`,
        );
    if (input.ConditionExpression !== undefined)
      evaluate(String(input.ConditionExpression), {}, names, values); // parses, or throws
    if (operation === 'UpdateItem' && typeof input.UpdateExpression !== 'string')
      throw new ValidationError('UpdateExpression is required here (AttributeUpdates is legacy)');
  }

  private apply(operation: string, input: Record<string, unknown>): { status: number; body: unknown } {
    const names = (input.ExpressionAttributeNames ?? {}) as Record<string, string>;
    const values = (input.ExpressionAttributeValues ?? {}) as Item;
    const id = String(((input.Item ?? input.Key) as Item)[this.key]?.S);
    const old = this.items.get(id);
    if (operation === 'GetItem') {
      if (old === undefined) return { status: 200, body: {} };
      const projection =
        typeof input.ProjectionExpression === 'string' ? input.ProjectionExpression : undefined;
      const item =
        projection === undefined
          ? old
          : Object.fromEntries(
              projection
                .split(',')
                .map((path) => names[path.trim()] ?? path.trim())
                .filter((name) => old[name] !== undefined)
                .map((name) => [name, old[name]]),
            );
      return { status: 200, body: { Item: item } };
    }
    if (
      typeof input.ConditionExpression === 'string' &&
      !evaluate(input.ConditionExpression, old ?? {}, names, values)
    ) {
      return this.error(
        400,
        'ConditionalCheckFailedException',
        'The conditional request failed',
        input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' && old !== undefined ? { Item: old } : {},
      );
    }
    if (operation === 'PutItem') this.items.set(id, structuredClone(input.Item as Item));
    else if (operation === 'DeleteItem') this.items.delete(id);
    else {
      const item: Item = structuredClone(old ?? { [this.key]: { S: id } });
      applyUpdate(String(input.UpdateExpression), item, names, values);
      this.items.set(id, item);
    }
    return { status: 200, body: {} };
  }
}

function checkValue(value: unknown): void {
  const keys = Object.keys((value ?? {}) as object);
  if (keys.length !== 1 || !TYPES.includes(keys[0] as string))
    throw new ValidationError(`attribute value ${JSON.stringify(value)} must carry exactly one type`);
  const [type] = keys;
  const inner = (value as Record<string, unknown>)[type as string];
  if (type === 'N' && (typeof inner !== 'string' || !Number.isFinite(Number(inner))))
    throw new ValidationError(`N value ${JSON.stringify(inner)} is not a number string`);
  if (type === 'S' && typeof inner !== 'string') throw new ValidationError('S value is not a string');
}

function scalar(value: AttributeValue | undefined): string | number | undefined {
  if (value === undefined) return undefined;
  if (typeof value.N === 'string') return Number(value.N);
  if (typeof value.S === 'string') return value.S;
  return JSON.stringify(value);
}

/** Condition expressions of the subset we write: functions, comparisons, AND / OR / NOT, parentheses. */
function evaluate(expression: string, item: Item, names: Record<string, string>, values: Item): boolean {
  const tokens = expression.match(/\(|\)|<>|<=|>=|=|<|>|,|[#:]?\w+/g) ?? [];
  let at = 0;
  const peek = () => tokens[at];
  const take = (expected?: string) => {
    const token = tokens[at];
    if (token === undefined || (expected !== undefined && token.toUpperCase() !== expected))
      throw new ValidationError(`Invalid ConditionExpression near ${token ?? 'end'} in ${expression}`);
    at += 1;
    return token;
  };
  const path = () => {
    const token = take();
    const name = token.startsWith('#') ? names[token] : token;
    if (name === undefined || token.startsWith(':')) throw new ValidationError(`bad path ${token}`);
    return name;
  };
  const operand = () => {
    const token = peek() ?? '';
    if (token.startsWith(':')) {
      take();
      return scalar(values[token]);
    }
    return scalar(item[path()]);
  };
  const primary = (): boolean => {
    const token = peek() ?? '';
    if (token === '(') {
      take('(');
      const result = or();
      take(')');
      return result;
    }
    if (token.toUpperCase() === 'NOT') {
      take();
      return !primary();
    }
    if (token === 'attribute_not_exists' || token === 'attribute_exists') {
      take();
      take('(');
      const name = path();
      take(')');
      return (item[name] !== undefined) === (token === 'attribute_exists');
    }
    const left = operand();
    const comparator = take();
    const right = operand();
    if (left === undefined || right === undefined) return comparator === '<>' && left !== right;
    switch (comparator) {
      case '=':
        return left === right;
      case '<>':
        return left !== right;
      case '<':
        return left < right;
      case '<=':
        return left <= right;
      case '>':
        return left > right;
      case '>=':
        return left >= right;
      default:
        throw new ValidationError(`unknown comparator ${comparator}`);
    }
  };
  const and = (): boolean => {
    let result = primary();
    while (peek()?.toUpperCase() === 'AND') {
      take();
      const right = primary();
      result = result && right;
    }
    return result;
  };
  const or = (): boolean => {
    let result = and();
    while (peek()?.toUpperCase() === 'OR') {
      take();
      const right = and();
      result = result || right;
    }
    return result;
  };
  const result = or();
  if (at !== tokens.length) throw new ValidationError(`Invalid ConditionExpression: trailing ${peek()}`);
  return result;
}

/** `SET #a = :v, #b = :w REMOVE #c, #d`. */
function applyUpdate(expression: string, item: Item, names: Record<string, string>, values: Item): void {
  const sections = expression.split(/\b(SET|REMOVE)\b/i).map((part) => part.trim());
  for (let index = 1; index < sections.length; index += 2) {
    const action = sections[index]?.toUpperCase();
    for (const clause of (sections[index + 1] ?? '').split(',').map((part) => part.trim())) {
      if (action === 'SET') {
        const [left, right] = clause.split('=').map((part) => part.trim());
        const name = names[left ?? ''] ?? left;
        const value = values[right ?? ''];
        if (name === undefined || value === undefined) throw new ValidationError(`bad SET clause ${clause}`);
        item[name] = value;
      } else {
        const name = names[clause] ?? clause;
        delete item[name];
      }
    }
  }
}
