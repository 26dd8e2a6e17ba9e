/**
 * The contenders, each behind one small interface so every workload drives them identically.
 * Peers are used through their public API with their own defaults unless a workload says
 * otherwise; no peer code is copied here.
 */
import { randomFillSync } from 'node:crypto';
import { Redis } from 'ioredis';
import { Mutex, RedlockMutex } from 'redis-semaphore';
import type RedlockClass from '../../node_modules/redlock/dist/index.js';
import type {
  Lock as NodeRedlockLock,
  Settings as NodeRedlockSettings,
} from '../../node_modules/redlock/dist/index.js';
import { createLockAdapter, DEFAULT_KEY_PREFIX, type Lock, Redlock } from '../../lib/index.js';
import { sleep } from './clock.js';

export type ContenderId = 'ours' | 'redlock' | 'redlock-fast' | 'semaphore' | 'limit';

export interface ContenderInfo {
  readonly id: ContenderId;
  /** Counts as a peer for "x times the best peer" (the hand-written limit does not). */
  readonly peer: boolean;
  /** npm package whose version the report shows (ours: this repository). */
  readonly pkg: string | undefined;
  label(nodes: number): string;
  /** How it is configured, for BENCHMARKS.md. */
  readonly setup: string;
}

export const CONTENDERS: readonly ContenderInfo[] = [
  {
    id: 'ours',
    peer: false,
    pkg: undefined,
    label: () => 'ours (Redlock engine)',
    setup:
      '`new Redlock(urls.map((url) => createLockAdapter(url)))`; `acquire(key, { ttl })` and `lock.release()`; contended: `acquire(key, { ttl: 1000, wait: 10_000, signal })`.',
  },
  {
    id: 'redlock',
    peer: true,
    pkg: 'redlock',
    label: () => 'node-redlock (defaults)',
    setup:
      '`new Redlock(clients)` with its defaults (retryDelay 200, retryJitter 100); contended: `retryCount` raised to 50 for a ~10 s retry budget.',
  },
  {
    id: 'redlock-fast',
    peer: true,
    pkg: 'redlock',
    label: () => 'node-redlock (retry 10±10 ms)',
    setup:
      '`new Redlock(clients, { retryDelay: 10, retryJitter: 10 })`; contended: `retryCount` 1000 for a ~10 s retry budget.',
  },
  {
    id: 'semaphore',
    peer: true,
    pkg: 'redis-semaphore',
    label: (nodes) => (nodes === 1 ? 'redis-semaphore Mutex' : 'redis-semaphore RedlockMutex'),
    setup:
      '`new Mutex(client, key, { lockTimeout })` on 1 node, `new RedlockMutex(clients, key, { lockTimeout })` on 5; its defaults otherwise (acquireTimeout 10 s, retryInterval 10 ms, auto-refresh).',
  },
  {
    id: 'limit',
    peer: false,
    pkg: 'ioredis',
    label: () => 'limit (hand-written ioredis)',
    setup:
      '`SET key value NX PX ttl` to every node in parallel, answered at the majority; compare-and-delete release by `EVALSHA` to every node, answered at the majority; contended: takes back a minority and polls again after 2–4 ms.',
  },
];

export function contenderInfo(id: ContenderId): ContenderInfo {
  return CONTENDERS.find((info) => info.id === id)!;
}

/** The Redis key under which a contender stores `resource`. */
export function redisKeyOf(id: ContenderId, resource: string): string {
  if (id === 'ours') return DEFAULT_KEY_PREFIX + resource;
  if (id === 'semaphore') return `mutex:${resource}`;
  return resource;
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
  /** Attempts per acquisition so far, where the contender reports them (ours: its events). */
  attempts?(): { acquisitions: number; attempts: number };
  close(): Promise<void>;
}

const PEER_CLIENT_OPTIONS = { connectTimeout: 5_000 } as const;

function peerClients(urls: readonly string[]): Redis[] {
  return urls.map((url) => {
    const client = new Redis(url, PEER_CLIENT_OPTIONS);
    client.on('error', () => undefined);
    return client;
  });
}

async function closeClients(clients: readonly Redis[]): Promise<void> {
  await Promise.all(clients.map((client) => client.quit().catch(() => client.disconnect())));
}

export async function createContender(
  id: ContenderId,
  urls: readonly string[],
  settings: ContenderSettings,
): Promise<Contender> {
  switch (id) {
    case 'ours':
      return createOurs(urls, settings);
    case 'redlock':
      return createNodeRedlock(id, urls, settings, {});
    case 'redlock-fast':
      return createNodeRedlock(id, urls, settings, { retryDelay: 10, retryJitter: 10 });
    case 'semaphore':
      return createSemaphore(urls, settings);
    case 'limit':
      return createLimit(urls, settings);
  }
}

// ---- ours ------------------------------------------------------------------------------------

async function createOurs(
  urls: readonly string[],
  settings: ContenderSettings,
): Promise<Contender<Lock>> {
  const adapters = urls.map((url) => createLockAdapter(url));
  await Promise.all(adapters.map((adapter) => adapter.ready?.(5_000) ?? Promise.resolve()));
  let acquisitions = 0;
  let attempts = 0;
  const engine = new Redlock(adapters, {
    onEvent: (event) => {
      if (event.type !== 'acquired') return;
      acquisitions += 1;
      attempts += event.attempts;
    },
  });
  const { ttl, waitMs } = settings;
  const contended = settings.mode === 'contended';
  return {
    id: 'ours',
    nodes: urls.length,
    acquire: contended
      ? (resource, signal) => engine.acquire(resource, { ttl, wait: waitMs, signal })
      : (resource) => engine.acquire(resource, { ttl }),
    release: (lock) => lock.release(),
    attempts: () => ({ acquisitions, attempts }),
    close: async () => {
      await engine.close();
      await Promise.all(adapters.map((adapter) => adapter.close()));
    },
  };
}

// ---- node-redlock ----------------------------------------------------------------------------

type NodeRedlockModule = { default: typeof RedlockClass };
let nodeRedlockModule: Promise<NodeRedlockModule> | undefined;

/**
 * redlock@5.0.0-beta.2 ships its types beside, not inside, its "exports" map, so TypeScript
 * cannot resolve them under `nodenext`; the runtime import goes through a variable specifier
 * and the types come from the file itself.
 */
function loadNodeRedlock(): Promise<NodeRedlockModule> {
  const specifier = 'redlock';
  nodeRedlockModule ??= import(specifier) as Promise<NodeRedlockModule>;
  return nodeRedlockModule;
}

const NODE_REDLOCK_DEFAULT_RETRY_DELAY = 200;

async function createNodeRedlock(
  id: 'redlock' | 'redlock-fast',
  urls: readonly string[],
  settings: ContenderSettings,
  overrides: Partial<NodeRedlockSettings>,
): Promise<Contender<NodeRedlockLock>> {
  const { default: NodeRedlock } = await loadNodeRedlock();
  const clients = peerClients(urls);
  await Promise.all(clients.map((client) => client.ping()));
  const retryDelay = overrides.retryDelay ?? NODE_REDLOCK_DEFAULT_RETRY_DELAY;
  const redlock = new NodeRedlock(
    clients,
    settings.mode === 'contended'
      ? { ...overrides, retryCount: Math.ceil(settings.waitMs / retryDelay) }
      : overrides,
  );
  const { ttl } = settings;
  return {
    id,
    nodes: urls.length,
    acquire: (resource) => redlock.acquire([resource], ttl),
    release: (lock) => lock.release(),
    close: () => closeClients(clients),
  };
}

// ---- redis-semaphore -------------------------------------------------------------------------

async function createSemaphore(
  urls: readonly string[],
  settings: ContenderSettings,
): Promise<Contender<Mutex | RedlockMutex>> {
  const clients = peerClients(urls);
  await Promise.all(clients.map((client) => client.ping()));
  const options =
    settings.mode === 'contended'
      ? { lockTimeout: settings.ttl, acquireTimeout: settings.waitMs }
      : { lockTimeout: settings.ttl };
  const single = clients.length === 1;
  return {
    id: 'semaphore',
    nodes: urls.length,
    acquire: async (resource, signal) => {
      const mutex = single
        ? new Mutex(clients[0]!, resource, options)
        : new RedlockMutex(clients, resource, options);
      await mutex.acquire(signal);
      return mutex;
    },
    release: (mutex) => mutex.release(),
    close: () => closeClients(clients),
  };
}

// ---- the limit: a hand-written Redlock on plain ioredis ---------------------------------------

const COMPARE_AND_DELETE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

interface LimitLock {
  readonly key: string;
  readonly value: string;
}

// Owner values from a pooled crypto-random buffer, as a careful hand-written client would.
const POOL = Buffer.alloc(16 * 256);
let poolOffset = POOL.length;
function token(): string {
  if (poolOffset >= POOL.length) {
    randomFillSync(POOL);
    poolOffset = 0;
  }
  const value = POOL.toString('hex', poolOffset, poolOffset + 16);
  poolOffset += 16;
  return value;
}

class BusyError extends Error {
  override readonly name = 'BusyError';
}

async function createLimit(
  urls: readonly string[],
  settings: ContenderSettings,
): Promise<Contender<LimitLock>> {
  const clients = peerClients(urls);
  const shas = await Promise.all(
    clients.map((client) => client.script('LOAD', COMPARE_AND_DELETE) as Promise<string>),
  );
  const sha = shas[0]!;
  const n = clients.length;
  const quorum = Math.floor(n / 2) + 1;
  const { ttl, waitMs } = settings;
  const contended = settings.mode === 'contended';
  const drift = Math.floor(ttl * 0.01) + 2;

  /** One attempt: resolves with the per-node grants once the majority decided. */
  const attempt = (key: string, value: string): Promise<{ won: boolean; refused: boolean[] }> =>
    new Promise((resolve) => {
      let yes = 0;
      let no = 0;
      let open = true;
      const refused = new Array<boolean>(n).fill(false);
      const settle = (): void => {
        if (!open) return;
        if (yes >= quorum) {
          open = false;
          resolve({ won: true, refused });
        } else if (no > n - quorum) {
          open = false;
          resolve({ won: false, refused });
        }
      };
      for (let i = 0; i < n; i += 1) {
        clients[i]!.set(key, value, 'PX', ttl, 'NX').then(
          (reply) => {
            if (reply === 'OK') yes += 1;
            else {
              refused[i] = true;
              no += 1;
            }
            settle();
          },
          () => {
            no += 1;
            settle();
          },
        );
      }
    });

  /** Compare-and-delete on the given nodes, resolved once `need` of them answered. */
  const unlock = (
    key: string,
    value: string,
    targets: readonly Redis[],
    need: number,
  ): Promise<void> =>
    new Promise((resolve) => {
      let answered = 0;
      if (targets.length === 0 || need <= 0) {
        resolve();
        return;
      }
      const done = (): void => {
        answered += 1;
        if (answered === need) resolve();
      };
      for (const client of targets) client.evalsha(sha, 1, key, value).then(done, done);
    });

  return {
    id: 'limit',
    nodes: n,
    acquire: async (key, signal) => {
      const deadline = performance.now() + waitMs;
      for (let tries = 1; ; tries += 1) {
        const value = token();
        const start = performance.now();
        const { won, refused } = await attempt(key, value);
        if (won && start + ttl - drift > performance.now()) return { key, value };
        // Take back a minority (also nodes still pending: their SET precedes this on the wire).
        const mine = clients.filter((_, i) => !refused[i]);
        await unlock(key, value, mine, mine.length);
        if (!contended || performance.now() >= deadline || tries >= 1_000_000) {
          throw new BusyError(`${key} is busy`);
        }
        await sleep(2 + Math.random() * 2, signal);
      }
    },
    release: (lock) => unlock(lock.key, lock.value, clients, quorum),
    close: () => closeClients(clients),
  };
}
