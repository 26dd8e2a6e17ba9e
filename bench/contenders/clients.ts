/** Connections for the peers and the limit: plain ioredis clients, one per node, as their READMEs show. */
import { Redis, type RedisOptions } from 'ioredis';

const PEER_CLIENT_OPTIONS = { connectTimeout: 5_000 } as const;

export async function peerClients(
  urls: readonly string[],
  options: RedisOptions = {},
): Promise<Redis[]> {
  const clients = urls.map((url) => {
    const client = new Redis(url, { ...PEER_CLIENT_OPTIONS, ...options });
    // A node going away mid-run is reported by the calls that fail; no unhandled 'error' event.
    client.on('error', () => undefined);
    return client;
  });
  await Promise.all(clients.map((client) => client.ping()));
  return clients;
}

export async function closeClients(clients: readonly Redis[]): Promise<void> {
  await Promise.all(clients.map((client) => client.quit().catch(() => client.disconnect())));
}
