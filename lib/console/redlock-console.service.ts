import {
  Inject,
  Injectable,
  Logger,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import type {
  ForceReleaseResult,
  LockInspection,
} from '../interfaces/lock-inspection.interface.js';
import { describeNodeError } from '../redaction.js';
import { OBSERVE_EVENTS } from '../redlock.constants.js';
import { RedlockService } from '../services/redlock.service.js';
import type { CircuitState } from '../services/circuit-breaker.js';
import { type ConsoleEvent, ConsoleEventLog } from './console-events.js';
import { REDLOCK_CONSOLE_OPTIONS, type ResolvedConsoleOptions } from './redlock-console.options.js';

/** How long a node may take to answer the console's PING. */
const PING_TIMEOUT_MS = 1_000;

/** One node as the console shows it. */
export interface ConsoleNode {
  readonly node: string;
  readonly circuit: CircuitState;
  /** `up` when it answered PING in time. */
  readonly health: 'up' | 'down';
  /** PING round trip in ms, when up. */
  readonly latency?: number;
  /** Why it is down, in words, never credentials. */
  readonly message?: string;
}

/** What the console page shows: one JSON document, refreshed by the page. */
export interface ConsoleState {
  readonly at: number;
  readonly pattern: string;
  readonly locks: LockInspection['locks'];
  readonly truncated: boolean;
  readonly nodes: readonly ConsoleNode[];
  readonly events: readonly ConsoleEvent[];
  /** Whether force release is possible (only behind a guard). */
  readonly canRelease: boolean;
}

/**
 * The console's view of the application's locks: inspections, node health and the recent events
 * it follows from `RedlockService` for as long as the module lives.
 */
@Injectable()
export class RedlockConsoleService implements OnModuleInit, OnModuleDestroy {
  readonly #options: ResolvedConsoleOptions;
  readonly #redlock: RedlockService;
  readonly #events: ConsoleEventLog;
  readonly #logger = new Logger('RedlockConsole');
  #unfollow: (() => void) | undefined;

  constructor(
    @Inject(REDLOCK_CONSOLE_OPTIONS) options: ResolvedConsoleOptions,
    redlock: RedlockService,
  ) {
    this.#options = options;
    this.#redlock = redlock;
    this.#events = new ConsoleEventLog(options.events);
  }

  onModuleInit(): void {
    const { mounted, guard, path } = this.#options;
    if (!mounted) {
      this.#logger.warn(
        `Lock console not mounted at /${path}: give it a guard (or unsafeAllowUnguarded: true for local development).`,
      );
      return;
    }
    if (!guard) {
      this.#logger.warn(
        `Lock console at /${path} has NO guard (unsafeAllowUnguarded): anyone who reaches this server sees every lock. Force release is off.`,
      );
    }
    this.#unfollow = this.#redlock[OBSERVE_EVENTS]((event) => this.#events.add(event));
  }

  onModuleDestroy(): void {
    this.#unfollow?.();
  }

  /** Held locks matching `pattern`, node health and recent events. */
  async state(pattern: string): Promise<ConsoleState> {
    const [inspection, nodes] = await Promise.all([this.#redlock.inspect(pattern), this.#health()]);
    return {
      at: inspection.at,
      pattern,
      locks: inspection.locks,
      truncated: inspection.truncated,
      nodes,
      events: this.#events.recent(),
      canRelease: this.canRelease,
    };
  }

  get canRelease(): boolean {
    return this.#options.guard !== undefined;
  }

  /** Force release from the console, attributed to whoever the guard let through. */
  release(resource: string, request: unknown): Promise<ForceReleaseResult> {
    const who = this.#options.identify(request);
    return this.#redlock.forceRelease(resource, { by: `console:${who}` });
  }

  async #health(): Promise<ConsoleNode[]> {
    const engine = this.#redlock.engine;
    const circuits = engine.nodeStates();
    return Promise.all(
      engine.adapters.map(async (adapter, index): Promise<ConsoleNode> => {
        const circuit = circuits[index]?.circuit ?? 'closed';
        const started = performance.now();
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            adapter.ping(),
            new Promise((_, reject) => {
              timer = setTimeout(() => reject(new Error('no answer within 1 s')), PING_TIMEOUT_MS);
            }),
          ]);
          const latency = Math.round((performance.now() - started) * 10) / 10;
          return { node: adapter.name, circuit, health: 'up', latency };
        } catch (error) {
          return { node: adapter.name, circuit, health: 'down', message: describeNodeError(error) };
        } finally {
          clearTimeout(timer);
        }
      }),
    );
  }
}
