import { createServer } from 'node:net';

export const LOOPBACK = '127.0.0.1';

// The shared server on this machine listens on 6379 (and a cluster bus would use 16379).
const NEVER = new Set([6379, 16379, 26379]);

// Ports this process has handed out and not yet released: the kernel may return a port again
// as soon as our probe socket closes, before the redis-server we gave it to has bound it.
const reserved = new Set<number>();

/** Resolves true when `port` can be bound on the loopback address right now. */
export function canBind(port: number, host = LOOPBACK): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function ephemeralPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

export interface FreePortOptions {
  /** Also require `port + offset` to be free (Redis Cluster's bus listens on port + 10000). */
  companionOffset?: number;
  host?: string;
}

/**
 * A loopback port that was free a moment ago, reserved in this process until
 * `releasePort`. Another process can still take it before we bind: callers retry on
 * EADDRINUSE.
 */
export async function findFreePort(options: FreePortOptions = {}): Promise<number> {
  const host = options.host ?? LOOPBACK;
  const offset = options.companionOffset ?? 0;
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = await ephemeralPort(host);
    if (NEVER.has(port) || reserved.has(port)) continue;
    if (offset > 0) {
      const companion = port + offset;
      if (companion > 65_535 || NEVER.has(companion) || reserved.has(companion)) continue;
      if (!(await canBind(companion, host))) continue;
      reserved.add(companion);
    }
    reserved.add(port);
    return port;
  }
  throw new Error(`no free loopback port found on ${host} after 200 attempts`);
}

export function releasePort(port: number, companionOffset = 0): void {
  reserved.delete(port);
  if (companionOffset > 0) reserved.delete(port + companionOffset);
}
