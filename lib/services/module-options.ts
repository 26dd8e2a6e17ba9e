import { Logger } from '@nestjs/common';
import type { RedlockNode } from '../adapters/lock-adapter.factory.js';
import { validateRedlockNode } from '../adapters/node-validation.js';
import type { ResolvedLockOptions } from '../interfaces/lock-options.interface.js';
import type { RedlockLogger } from '../interfaces/redlock-events.interface.js';
import type { RedlockModuleOptions } from '../interfaces/redlock-module-options.interface.js';
import { DEFAULT_KEY_PREFIX } from '../redlock.constants.js';
import { redactUrl } from '../redaction.js';
import { RedlockConfigError } from '../redlock.errors.js';
import { parseDuration } from './duration.js';
import { validateCircuitBreaker, validateLogger, validateOnEvent } from './engine-options.js';
import { DEFAULT_LOCK_OPTIONS, describe, resolveLockOptions } from './lock-options.js';
import { resolveHolderOptions } from './instance-record.js';
import { resolveHandOff } from './hand-off.js';
import {
  type RedlockTelemetryOptions,
  resolveTelemetryOptions,
} from '../observability/telemetry-options.js';

/** The logger the options ask for: theirs, Nest's `Logger('Redlock')`, or none. */
export function loggerOf(options: Pick<RedlockModuleOptions, 'logger'>): RedlockLogger | undefined {
  return options.logger === false ? undefined : (options.logger ?? new Logger('Redlock'));
}

/** Default of `shutdownTimeout`: how long shutdown waits for work that still holds locks. */
export const DEFAULT_SHUTDOWN_TIMEOUT = 10_000;

/** `RedlockModuleOptions` after validation, with every default applied. */
export interface ResolvedRedlockOptions {
  readonly nodes: readonly RedlockNode[];
  readonly keyPrefix: string;
  readonly lock: Readonly<ResolvedLockOptions>;
  readonly connectTimeout: number;
  readonly onEvent: RedlockModuleOptions['onEvent'];
  readonly logger: RedlockModuleOptions['logger'];
  readonly circuitBreaker: RedlockModuleOptions['circuitBreaker'];
  readonly degradedMode: boolean;
  readonly credentials: RedlockModuleOptions['credentials'];
  readonly shutdownTimeout: number;
  readonly allowMemoryInProduction: boolean;
  /** `undefined` when telemetry is off. */
  readonly telemetry: RedlockTelemetryOptions | undefined;
  readonly instanceName: string | undefined;
  readonly holderInfo: boolean;
  /** As given (validated): the engine applies the default. */
  readonly handOff: RedlockModuleOptions['handOff'];
}

/**
 * Validates module options and applies defaults. Throws `RedlockConfigError` naming the option
 * (`nodes[1]`, `lock.ttl`); node URLs in messages are shown without their credentials.
 * URL nodes are trimmed first, so `'redis://a, redis://b'.split(',')` works.
 */
export function resolveModuleOptions(
  options: RedlockModuleOptions,
  env: { NODE_ENV?: string } = process.env,
): ResolvedRedlockOptions {
  if (typeof options !== 'object' || options === null) {
    throw new RedlockConfigError('options', `expected an object, got ${describe(options)}`);
  }
  if (!Array.isArray(options.nodes) || options.nodes.length === 0) {
    throw new RedlockConfigError(
      'nodes',
      `give at least one node (a redis:// URL, options, a client, or 'memory://'), got ${describeNodes(options.nodes)}`,
    );
  }
  const nodes = (options.nodes as readonly unknown[]).map((node) =>
    typeof node === 'string' ? node.trim() : node,
  ) as RedlockNode[];
  nodes.forEach((node: unknown, index) => validateRedlockNode(node, `nodes[${index}]`));
  const { allowMemoryInProduction = false } = options;
  if (typeof allowMemoryInProduction !== 'boolean') {
    throw new RedlockConfigError(
      'allowMemoryInProduction',
      `expected true or false, got ${describe(allowMemoryInProduction)}`,
    );
  }
  const memory = nodes.findIndex((node) => typeof node === 'string' && node.startsWith('memory:'));
  if (memory !== -1 && env.NODE_ENV === 'production' && !allowMemoryInProduction) {
    throw new RedlockConfigError(
      `nodes[${memory}]`,
      'memory:// keeps locks inside this process, so instances of the app would not exclude each other, and NODE_ENV is production. ' +
        'Give redis:// nodes, or set allowMemoryInProduction: true if the app really runs as one process.',
    );
  }
  const shutdownTimeout = parseDuration(
    options.shutdownTimeout ?? DEFAULT_SHUTDOWN_TIMEOUT,
    'shutdownTimeout',
  ) as number;
  if (!Number.isInteger(shutdownTimeout) || shutdownTimeout < 0) {
    throw new RedlockConfigError(
      'shutdownTimeout',
      `expected whole milliseconds >= 0 or a duration such as '10s', got ${describe(shutdownTimeout)}`,
    );
  }
  const keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
  if (typeof keyPrefix !== 'string') {
    throw new RedlockConfigError('keyPrefix', `expected a string, got ${describe(keyPrefix)}`);
  }
  const connectTimeout = parseDuration(options.connectTimeout ?? 5_000, 'connectTimeout') as number;
  if (!Number.isInteger(connectTimeout) || connectTimeout < 0) {
    throw new RedlockConfigError(
      'connectTimeout',
      `expected whole milliseconds >= 0 or a duration such as '5s', got ${describe(connectTimeout)}`,
    );
  }
  validateOnEvent(options.onEvent);
  if (options.logger !== false) validateLogger(options.logger, 'logger');
  const { circuitBreaker, degradedMode = false } = options;
  validateCircuitBreaker(circuitBreaker);
  if (typeof degradedMode !== 'boolean') {
    throw new RedlockConfigError(
      'degradedMode',
      `expected true or false, got ${describe(degradedMode)}`,
    );
  }
  const { credentials } = options;
  if (credentials !== undefined) {
    if (
      typeof credentials !== 'object' ||
      credentials === null ||
      typeof credentials.provider !== 'function'
    ) {
      throw new RedlockConfigError(
        'credentials',
        'expected { provider: () => credentials, refreshInterval? }',
      );
    }
    const interval = credentials.refreshInterval ?? 300_000;
    if (!Number.isInteger(interval) || interval < 1_000) {
      throw new RedlockConfigError(
        'credentials.refreshInterval',
        `expected whole milliseconds >= 1000, got ${describe(interval)}`,
      );
    }
  }
  resolveHandOff(options.handOff);
  const resolved = {
    handOff: options.handOff,
    credentials,
    circuitBreaker,
    degradedMode,
    keyPrefix,
    shutdownTimeout,
    allowMemoryInProduction,
    lock: resolveLockOptions(DEFAULT_LOCK_OPTIONS, options.lock, 'lock'),
    connectTimeout,
    onEvent: options.onEvent,
    logger: options.logger,
    telemetry: resolveTelemetryOptions(options.telemetry),
    ...resolveHolderOptions(options),
  } as Omit<ResolvedRedlockOptions, 'nodes'>;
  // Nodes may carry passwords: kept out of util.inspect and JSON.stringify of the options.
  return Object.defineProperty(resolved, 'nodes', {
    value: nodes,
    enumerable: false,
  }) as ResolvedRedlockOptions;
}

/** The nodes value for a message: never its content (it may hold URLs with passwords). */
function describeNodes(nodes: unknown): string {
  if (typeof nodes === 'string') return `a string ("${redactUrl(nodes)}"); give an array of nodes`;
  return describe(nodes);
}
