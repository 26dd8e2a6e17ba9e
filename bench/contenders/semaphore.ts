/**
 * redis-semaphore: `Mutex` on one node, `RedlockMutex` on several, a new mutex object per
 * acquisition as its README shows, with its defaults apart from the ttl (`lockTimeout`) and,
 * on the hot key, the same ~10 s budget as everyone (`acquireTimeout`).
 */
import { Mutex, RedlockMutex } from 'redis-semaphore';
import type { Contender, ContenderSettings } from '../core/contenders.js';
import { closeClients, peerClients } from './clients.js';

export async function createSemaphore(
  urls: readonly string[],
  settings: ContenderSettings,
): Promise<Contender<Mutex | RedlockMutex>> {
  const clients = await peerClients(urls);
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
