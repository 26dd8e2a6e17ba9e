import { Cluster, Redis } from 'ioredis';
import { isLockAdapter } from '../interfaces/lock-adapter.interface.js';
import { describe, redactUrl } from '../redaction.js';
import { RedlockConfigError } from '../redlock.errors.js';
import type { IovalkeyClient } from './iovalkey.adapter.js';
import type { RedlockNode } from './lock-adapter.factory.js';
import type { NodeRedisClient } from './node-redis.client.js';

const URL_SCHEMES = new Set(['redis:', 'rediss:', 'memory:']);

/** An ioredis-compatible client from another package (iovalkey), recognised by shape. */
export function isIoredisLike(value: unknown): value is IovalkeyClient {
  if (typeof value !== 'object' || value === null) return false;
  const client = value as Record<string, unknown>;
  return (
    typeof client.defineCommand === 'function' &&
    typeof client.duplicate === 'function' &&
    typeof client.isCluster === 'boolean'
  );
}

/** A node-redis client (`createClient`/`createCluster`), recognised by shape. */
export function isNodeRedisClient(value: unknown): value is NodeRedisClient {
  if (typeof value !== 'object' || value === null) return false;
  const client = value as Record<string, unknown>;
  return (
    typeof client.sendCommand === 'function' &&
    typeof client.duplicate === 'function' &&
    typeof client.isOpen === 'boolean' &&
    typeof client.defineCommand !== 'function'
  );
}

/**
 * Checks that `node` is one of the shapes of {@link RedlockNode}, before anything connects: a URL
 * with a redis://, rediss:// or memory:// scheme, a host and a valid port and database; ioredis
 * options with a valid port; `{ cluster }` or `{ sentinels, name }` that are not empty; a client;
 * or a `LockAdapter`. URLs in messages never show their credentials.
 * @param option how the message names the node, e.g. `nodes[1]`.
 * @throws RedlockConfigError naming `option` (or `option.port`, `option.cluster`…).
 *
 * @example
 * ```ts
 * validateRedlockNode('redis://:pw@cache:6379/0', 'nodes[0]'); // passes
 * validateRedlockNode('http://cache', 'nodes[1]'); // RedlockConfigError: unsupported scheme
 * ```
 */
export function validateRedlockNode(node: unknown, option: string): asserts node is RedlockNode {
  if (typeof node === 'string') {
    validateUrl(node, option);
    return;
  }
  if (
    node instanceof Redis ||
    node instanceof Cluster ||
    isLockAdapter(node) ||
    isIoredisLike(node) ||
    isNodeRedisClient(node)
  ) {
    return;
  }
  if (typeof node !== 'object' || node === null || Array.isArray(node)) {
    throw new RedlockConfigError(
      option,
      `expected a URL, ioredis options, { cluster }, { sentinels, name }, a client or an adapter; got ${describe(node)}`,
    );
  }
  const shape = node as Record<string, unknown>;
  if ('cluster' in shape) {
    if (!Array.isArray(shape.cluster) || shape.cluster.length === 0) {
      throw new RedlockConfigError(`${option}.cluster`, 'give at least one startup node');
    }
    return;
  }
  if ('sentinels' in shape) {
    if (!Array.isArray(shape.sentinels) || shape.sentinels.length === 0) {
      throw new RedlockConfigError(`${option}.sentinels`, 'give at least one sentinel');
    }
    if (typeof shape.name !== 'string' || shape.name.length === 0) {
      throw new RedlockConfigError(
        `${option}.name`,
        'give the master group name the sentinels monitor',
      );
    }
    return;
  }
  if (shape.port !== undefined && !isPort(shape.port)) {
    throw new RedlockConfigError(
      `${option}.port`,
      `expected a port 1-65535, got ${describe(shape.port)}`,
    );
  }
}

function validateUrl(url: string, option: string): void {
  if (url === '') {
    throw new RedlockConfigError(
      option,
      'is an empty string (a trailing comma in a comma-separated list?); expected redis://host:port, rediss://host:port or memory://',
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RedlockConfigError(
      option,
      `"${redactUrl(url)}" is not a URL; expected redis://host:port, rediss://host:port or memory://`,
    );
  }
  if (!URL_SCHEMES.has(parsed.protocol)) {
    throw new RedlockConfigError(
      option,
      `unsupported scheme "${parsed.protocol}" in "${redactUrl(url)}"; expected redis://, rediss:// or memory://`,
    );
  }
  if (parsed.protocol === 'memory:') return;
  if (!parsed.hostname) {
    throw new RedlockConfigError(option, `"${redactUrl(url)}" has no host`);
  }
  if (parsed.port && !isPort(Number(parsed.port))) {
    throw new RedlockConfigError(option, `"${redactUrl(url)}" has an invalid port`);
  }
  const db = parsed.pathname.replace(/^\//, '');
  if (db && !/^\d+$/.test(db)) {
    throw new RedlockConfigError(option, `"${redactUrl(url)}": the path must be a database number`);
  }
}

function isPort(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 && value < 65536;
}

/** The second argument of `createLockAdapter`: an object whose callbacks are functions. */
export function validateFactoryOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null) {
    throw new RedlockConfigError('options', `expected an object, got ${describe(options)}`);
  }
  const { onError, onReady, credentials } = options as Record<string, unknown>;
  for (const [name, value] of [
    ['onError', onError],
    ['onReady', onReady],
  ] as const) {
    if (value !== undefined && typeof value !== 'function') {
      throw new RedlockConfigError(name, `expected a function, got ${describe(value)}`);
    }
  }
  if (
    credentials !== undefined &&
    (typeof credentials !== 'object' ||
      credentials === null ||
      typeof (credentials as { password?: unknown }).password !== 'string')
  ) {
    // Never `describe(credentials)`: it is the one value here that is a secret.
    throw new RedlockConfigError(
      'credentials',
      'expected { username?, password } with a string password',
    );
  }
}
