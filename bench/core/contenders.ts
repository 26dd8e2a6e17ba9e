/**
 * The contenders: who they are (for the report) and the one small interface every workload
 * drives them through. Each implementation lives in `bench/contenders/`, calls its library
 * through its public API with the configuration its users would pick, and copies no library code.
 */
import { createLimit } from '../contenders/limit.js';
import { createNodeRedlock } from '../contenders/node-redlock.js';
import { createOurs } from '../contenders/ours.js';
import { createSemaphore } from '../contenders/semaphore.js';

export type ContenderId =
  | 'ours'
  | 'ours-using'
  | 'ours-engine'
  | 'ours-no-hand-off'
  | 'redlock'
  | 'redlock-fast'
  | 'sesame'
  | 'sesame-fast'
  | 'semaphore'
  | 'limit'
  | 'limit-ours'
  | 'limit-pipelined';

export type Family = 'ours' | 'node-redlock' | 'sesame' | 'semaphore' | 'limit';

export interface ContenderInfo {
  readonly id: ContenderId;
  readonly family: Family;
  /** Counts as a peer for "× the best peer" (ours and the hand-written limit do not). */
  readonly peer: boolean;
  /** A secondary row (ours' engine and `using`, the pipelined limit): never in a headline ratio. */
  readonly secondary: boolean;
  /** npm package whose version the report shows (ours: this repository). */
  readonly pkg: string | undefined;
  label(nodes: number): string;
  /** How it is configured, for BENCHMARKS.md. */
  readonly setup: string;
  /** Only these workloads (all when absent). */
  readonly only?: readonly ('throughput' | 'hot-key' | 'memory' | 'lingering')[];
}

export const CONTENDERS: readonly ContenderInfo[] = [
  {
    id: 'ours',
    family: 'ours',
    peer: false,
    secondary: false,
    pkg: undefined,
    label: () => 'ours (RedlockService)',
    setup:
      '`RedlockService` from `NestFactory.createApplicationContext(AppModule)`, where `AppModule` imports `RedlockModule.forRoot({ nodes: urls })` (every other option at its default); `service.acquire(key, { ttl })` then `lock.release()`. Hot key: `service.acquire(key, { ttl: 1000, wait: 10_000, signal })`.',
  },
  {
    id: 'ours-using',
    family: 'ours',
    peer: false,
    secondary: true,
    pkg: undefined,
    label: () => 'ours (service.using) ²',
    setup:
      'The same application context; `service.using(key, () => undefined, { ttl })`: acquire, run, release, with the auto-extension a `using` block arms. Secondary row.',
    only: ['throughput'],
  },
  {
    id: 'ours-engine',
    family: 'ours',
    peer: false,
    secondary: true,
    pkg: undefined,
    label: () => 'ours (bare engine) ²',
    setup:
      '`new Redlock(urls.map((url) => createLockAdapter(url)))` without Nest, `acquire(key, { ttl })` and `lock.release()`: what the service adds on top of the engine. Secondary row.',
    only: ['throughput', 'memory'],
  },
  {
    id: 'ours-no-hand-off',
    family: 'ours',
    peer: false,
    secondary: true,
    pkg: undefined,
    label: () => 'ours (handOff: false) ²',
    setup:
      'The service as above from `RedlockModule.forRoot({ nodes: urls, handOff: false })`: every release frees the keys and the waiters race for them, as before in-process hand-offs. What the hand-offs change. Secondary row.',
    only: ['hot-key'],
  },
  {
    id: 'redlock',
    family: 'node-redlock',
    peer: true,
    secondary: false,
    pkg: 'redlock',
    label: () => 'node-redlock (defaults)',
    setup:
      '`new Redlock(clients)` with its defaults (retryDelay 200, retryJitter 100, retryCount 10); hot key: `retryCount` raised to 50 for a ~10 s budget like everyone’s.',
  },
  {
    id: 'redlock-fast',
    family: 'node-redlock',
    peer: true,
    secondary: false,
    pkg: 'redlock',
    label: () => 'node-redlock (retry 10±10 ms)',
    setup:
      '`new Redlock(clients, { retryDelay: 10, retryJitter: 10 })`; hot key: `retryCount` 1000 for a ~10 s budget.',
    only: ['throughput', 'hot-key'],
  },
  {
    id: 'sesame',
    family: 'sesame',
    peer: true,
    secondary: false,
    pkg: '@sesamecare-oss/redlock',
    label: () => '@sesamecare-oss/redlock (defaults)',
    setup:
      'The maintained node-redlock fork: `new Redlock(clients)` with its defaults (retryDelay 200, retryJitter 100, retryCount 10); hot key: `retryCount` 50.',
  },
  {
    id: 'sesame-fast',
    family: 'sesame',
    peer: true,
    secondary: false,
    pkg: '@sesamecare-oss/redlock',
    label: () => '@sesamecare-oss/redlock (retry 10±10 ms)',
    setup:
      '`new Redlock(clients, { retryDelay: 10, retryJitter: 10 })`; hot key: `retryCount` 1000.',
    only: ['throughput', 'hot-key'],
  },
  {
    id: 'semaphore',
    family: 'semaphore',
    peer: true,
    secondary: false,
    pkg: 'redis-semaphore',
    label: (nodes) => (nodes === 1 ? 'redis-semaphore Mutex' : 'redis-semaphore RedlockMutex'),
    setup:
      '`new Mutex(client, key, { lockTimeout })` on 1 node, `new RedlockMutex(clients, key, { lockTimeout })` on more; its defaults otherwise (acquireTimeout 10 s, retryInterval 10 ms, refresh at 80 % of the ttl).',
  },
  {
    id: 'limit',
    family: 'limit',
    peer: false,
    secondary: false,
    pkg: 'ioredis',
    label: () => 'limit (hand-written ioredis)',
    setup:
      '`SET key value NX PX ttl` to every node in parallel, answered at the majority; compare-and-delete release by `EVALSHA` to every node, answered at the majority. Hot key: takes back a minority and polls again after 2–4 ms.',
  },
  {
    id: 'limit-ours',
    family: 'limit',
    peer: false,
    secondary: true,
    pkg: 'ioredis',
    label: () => 'limit with our commands ²',
    setup:
      'The same loop sending exactly the commands ours sends: `SET key value NX PX ttl GET` (GET tells a replayed SET from a busy key) and our release script by `EVALSHA` with its `PUBLISH` to the release channel. Between the limit and ours: the limit → this row is what our commands cost, this row → ours what our code costs. Secondary row.',
    only: ['throughput'],
  },
  {
    id: 'limit-pipelined',
    family: 'limit',
    peer: false,
    secondary: true,
    pkg: 'ioredis',
    label: () => 'limit, ioredis auto-pipelining ²',
    setup:
      'The same loop on clients made with `enableAutoPipelining: true`, so commands issued in the same tick share one write: shows how much of a difference at high concurrency is write batching rather than Redis work. Secondary row.',
    only: ['throughput'],
  },
];

export function contenderInfo(id: string): ContenderInfo {
  const info = CONTENDERS.find((c) => c.id === id);
  if (!info) throw new Error(`unknown contender "${id}"`);
  return info;
}

/** The contenders of `workload`, in registry order, restricted to `allowed` when given. */
export function contendersFor(
  workload: 'throughput' | 'hot-key' | 'memory' | 'lingering',
  allowed: readonly string[] | undefined,
): ContenderId[] {
  return CONTENDERS.filter(
    (c) => (!c.only || c.only.includes(workload)) && (!allowed || allowed.includes(c.id)),
  ).map((c) => c.id);
}

/**
 * Resource names carry the contender's id (`b:<id>:...`), so every key left on a node can be
 * attributed to the contender that made it, whatever prefix its library adds.
 */
export function resourceName(id: string, ...parts: (string | number)[]): string {
  return `b:${id}:${parts.join(':')}`;
}

export interface ContenderSettings {
  readonly mode: 'uncontended' | 'contended';
  readonly ttl: number;
  /** Contended only: the retry budget (ms) every contender gets. */
  readonly waitMs: number;
}

/** One contender bound to one set of nodes; `H` is its lock handle. */
export interface Contender<H = unknown> {
  readonly id: ContenderId;
  readonly nodes: number;
  acquire(resource: string, signal?: AbortSignal): Promise<H>;
  release(handle: H): Promise<unknown>;
  /** acquire + release as one call, where that is how the contender is used (`using`). */
  cycle?(resource: string): Promise<void>;
  /** Attempts per acquisition so far, where the contender reports them (ours: its events). */
  attempts?(): { acquisitions: number; attempts: number };
  close(): Promise<void>;
}

export async function createContender(
  id: ContenderId,
  urls: readonly string[],
  settings: ContenderSettings,
): Promise<Contender> {
  switch (id) {
    case 'ours':
    case 'ours-using':
    case 'ours-engine':
    case 'ours-no-hand-off':
      return createOurs(id, urls, settings);
    case 'redlock':
    case 'redlock-fast':
    case 'sesame':
    case 'sesame-fast':
      return createNodeRedlock(id, urls, settings);
    case 'semaphore':
      return createSemaphore(urls, settings);
    case 'limit':
      return createLimit(urls, settings);
    case 'limit-ours':
      return createLimit(urls, settings, {}, 'ours');
    case 'limit-pipelined':
      return createLimit(urls, settings, { enableAutoPipelining: true });
  }
}
