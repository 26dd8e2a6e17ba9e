/**
 * The HTTP load generator: `connections` keep-alive loops of GET requests for a fixed time.
 * Plain `node:http` rather than autocannon, because autocannon counts whole seconds (a 0.5 s
 * run lasts 1 s, and `amount` runs still end on a second boundary) and reports latency in
 * whole milliseconds, while the difference under study (what a lock adds to a request) is a
 * fraction of a millisecond. The client's own cost is the same for every route, so it cancels
 * in the difference.
 */
import { Agent, get } from 'node:http';
import { type LatencySummary, Samples } from '../core/stats.js';

export interface LoadResult {
  readonly requests: number;
  readonly durationS: number;
  readonly errors: number;
  readonly non2xx: number;
  /** Per request, ms, measured with `performance.now()`. */
  readonly latency: LatencySummary;
}

function request(agent: Agent, port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get({ agent, host: '127.0.0.1', port, path }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
      res.once('error', reject);
    });
    req.once('error', reject);
  });
}

export async function loadHttp(
  port: number,
  connections: number,
  durationMs: number,
  path: () => string,
): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const samples = new Samples(100_000);
  let errors = 0;
  let non2xx = 0;
  const start = performance.now();
  const end = start + durationMs;
  const lane = async (): Promise<void> => {
    while (performance.now() < end && errors < 100) {
      const t0 = performance.now();
      try {
        const status = await request(agent, port, path());
        if (status < 200 || status >= 300) non2xx += 1;
        samples.push(performance.now() - t0);
      } catch {
        errors += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, lane));
  const durationS = (performance.now() - start) / 1_000;
  agent.destroy();
  return { requests: samples.count, durationS, errors, non2xx, latency: samples.summary() };
}
