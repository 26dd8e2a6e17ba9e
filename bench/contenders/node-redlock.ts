/**
 * node-redlock (5.0.0-beta.2, the version most apps pin) and its maintained fork
 * `@sesamecare-oss/redlock`: the same API (`new Redlock(clients, settings)`,
 * `acquire(resources, ttl)`, `lock.release()`), each in two configurations: its defaults, and
 * the fast retry (10 ± 10 ms) its users pick for short critical sections.
 */
import { Redlock as SesameRedlock } from '@sesamecare-oss/redlock';
import type RedlockClass from '../../node_modules/redlock/dist/index.js';
import type { ContenderSettings, Contender } from '../core/contenders.js';
import { closeClients, peerClients } from './clients.js';

/** What both libraries' lock handles offer. */
interface RedlockLike {
  acquire(resources: string[], duration: number): Promise<{ release(): Promise<unknown> }>;
}

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

/** Both libraries default to a 200 ms retry delay (+ up to 100 ms jitter). */
const DEFAULT_RETRY_DELAY = 200;
const FAST = { retryDelay: 10, retryJitter: 10 } as const;

export async function createNodeRedlock(
  id: 'redlock' | 'redlock-fast' | 'sesame' | 'sesame-fast',
  urls: readonly string[],
  settings: ContenderSettings,
): Promise<Contender<{ release(): Promise<unknown> }>> {
  const clients = await peerClients(urls);
  const fast = id.endsWith('-fast');
  const retryDelay = fast ? FAST.retryDelay : DEFAULT_RETRY_DELAY;
  // Hot key: a retry count that gives the same ~10 s budget everyone gets; otherwise defaults.
  const budget =
    settings.mode === 'contended' ? { retryCount: Math.ceil(settings.waitMs / retryDelay) } : {};
  const options = { ...(fast ? FAST : {}), ...budget };
  let redlock: RedlockLike;
  if (id.startsWith('sesame')) {
    redlock = new SesameRedlock(clients, options);
  } else {
    const { default: NodeRedlock } = await loadNodeRedlock();
    redlock = new NodeRedlock(clients, options);
  }
  const { ttl } = settings;
  return {
    id,
    nodes: urls.length,
    acquire: (resource) => redlock.acquire([resource], ttl),
    release: (lock) => lock.release(),
    close: () => closeClients(clients),
  };
}
