import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { LockAdapter } from '../interfaces/lock-adapter.interface.js';
import type { RedlockLogger } from '../interfaces/redlock-events.interface.js';
import { safeMessage, truncate } from '../redaction.js';
import { RedlockConfigError } from '../redlock.errors.js';
import { describe } from './lock-options.js';
import type { Clock, TimerHandle } from './clock.js';

/** Who an engine is, as `inspect()` shows a lock's holder. */
export interface InstanceInfo {
  /** The `instanceName` option, by default `hostname:pid`. */
  readonly name: string;
  readonly host: string;
  readonly pid: number;
  /** Epoch ms at which the engine was created. */
  readonly startedAt: number;
}

/** How long a record lives on a node: long enough to outlast any lock of its instance. */
export const INSTANCE_RECORD_TTL = 24 * 60 * 60_000;
/** How often it is written again: a node restarted without persistence learns it back soon. */
const REFRESH_MS = 10 * 60_000;
/** The longest name kept; names come from configuration but end up in logs and pages. */
const MAX_NAME = 200;

/**
 * An engine's identity for holder information: a random tag (8 base64url chars, 48 bits: unique
 * among any realistic number of instances) that every owner value of the engine carries (see
 * `ownerValue()`), and the record stored once per node under `\u0000redlock:instance:<tag>`
 * that the tag points to. So naming a lock's holder costs no command per lock: the record is
 * written when the engine first connects and refreshed every 10 minutes (ttl 24 h) by a timer
 * that never keeps the process alive.
 */
export class InstanceRecord {
  readonly tag = randomBytes(6).toString('base64url');
  readonly info: InstanceInfo;
  #timer: TimerHandle | undefined;
  #started = false;

  constructor(
    name: string | undefined,
    private readonly clock: Clock,
    private readonly logger: RedlockLogger | undefined,
  ) {
    const host = hostname();
    this.info = {
      name: truncate(name ?? `${host}:${process.pid}`, MAX_NAME),
      host,
      pid: process.pid,
      startedAt: clock.wallNow(),
    };
  }

  /** Writes the record on every node that can store one, now and every 10 minutes. */
  start(adapters: readonly LockAdapter[]): void {
    if (this.#started) return;
    this.#started = true;
    const record = JSON.stringify(this.info);
    const write = (): void => {
      for (const adapter of adapters) {
        adapter.inspector?.announce(this.tag, record, INSTANCE_RECORD_TTL).catch((error) => {
          // Holder information is a convenience: locks work without it, so a debug line is enough.
          this.logger?.debug?.(
            `Could not store the instance record on ${adapter.name}: ${safeMessage(error)}`,
          );
        });
      }
      this.#timer = this.clock.setTimeout(write, REFRESH_MS, false);
    };
    write();
  }

  stop(): void {
    this.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** What an owner value says about its holder (see `ownerValue()`), when it has the suffix. */
export interface OwnerParts {
  readonly tag: string;
  /** Epoch ms of the acquisition attempt that made the value. */
  readonly acquiredAt: number;
}

const OWNER_VALUE = /^[A-Za-z0-9_-]{22}\.([A-Za-z0-9_-]{1,16})\.([0-9a-z]{1,11})$/;

/** The tag and acquisition time in an owner value; `undefined` for other values. */
export function ownerParts(value: string): OwnerParts | undefined {
  const match = OWNER_VALUE.exec(value);
  if (!match) return undefined;
  return { tag: match[1]!, acquiredAt: parseInt(match[2]!, 36) };
}

/**
 * An instance record as read from a node: anyone with write access to the node can put anything
 * there, so only well-typed, bounded fields are kept.
 */
export function parseInstanceRecord(text: string): InstanceInfo | undefined {
  try {
    const raw = JSON.parse(text) as Record<string, unknown>;
    const { name, host, pid, startedAt } = raw;
    if (typeof name !== 'string' || typeof host !== 'string') return undefined;
    return {
      name: truncate(name, MAX_NAME),
      host: truncate(host, MAX_NAME),
      pid: Number.isSafeInteger(pid) ? (pid as number) : -1,
      startedAt: Number.isFinite(startedAt) ? (startedAt as number) : 0,
    };
  } catch {
    return undefined;
  }
}

/** The holder-information module options, validated (see `RedlockModuleOptions`). */
export function resolveHolderOptions(options: { instanceName?: unknown; holderInfo?: unknown }): {
  instanceName: string | undefined;
  holderInfo: boolean;
} {
  const { instanceName, holderInfo = true } = options;
  if (instanceName !== undefined && (typeof instanceName !== 'string' || instanceName === '')) {
    throw new RedlockConfigError(
      'instanceName',
      `expected a non-empty string, got ${describe(instanceName)}`,
    );
  }
  if (typeof holderInfo !== 'boolean') {
    throw new RedlockConfigError(
      'holderInfo',
      `expected true or false, got ${describe(holderInfo)}`,
    );
  }
  return { instanceName, holderInfo };
}
