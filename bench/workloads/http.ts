/**
 * Workload 4: the same Nest route plain and under `@WithLock`, driven by autocannon from this
 * process while the app runs in a child. Every request asks for a new id, so every lock is
 * uncontended: the difference between the routes is the cost of the lock itself.
 */
import { createRequire } from 'node:module';
import type { BenchConfig } from '../core/config.js';
import { forkTracked, nextMessage, send, stopChild } from '../core/processes.js';
import type { RedisAdmin } from '../core/redis-tools.js';
import type { HttpAppConfigMessage, RoundTripReply, RoundTripRequest } from './http-app.js';

/** The part of autocannon's programmatic API used here (the package ships no types). */
interface AutocannonRequest {
  method?: string;
  path?: string;
}
interface AutocannonOptions {
  url: string;
  connections: number;
  duration: number;
  pipelining?: number;
  requests?: {
    method?: string;
    setupRequest?: (request: AutocannonRequest) => AutocannonRequest;
  }[];
}
interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  requests: { total: number };
  latency: { mean: number; p50: number; p99: number; max: number };
}
type Autocannon = (
  options: AutocannonOptions,
  callback: (error: Error | null, result: AutocannonResult) => void,
) => unknown;

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

export function cannon(options: AutocannonOptions): Promise<AutocannonResult> {
  return new Promise((resolve, reject) => {
    autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

export type Route = 'plain' | 'locked' | 'limit';
const ROUTES: readonly Route[] = ['plain', 'locked', 'limit'];

export interface HttpResult {
  readonly nodes: number;
  readonly connections: number;
  readonly route: Route;
  readonly requests: number;
  readonly durationS: number;
  readonly reqPerSec: number;
  /** connections × duration / requests: the mean time a connection spends per request. */
  readonly msPerRequest: number;
  /** Request-weighted means of the per-slice autocannon percentiles (1 ms resolution). */
  readonly latency: { mean: number; p50: number; p99: number; max: number };
  readonly errors: number;
  readonly non2xx: number;
  /**
   * Mean acquire + release of the route's lock (the app's RedlockService, or the hand-written
   * lock for the control route), measured in the app process between the load slices
   * (1 connection only): the lock's two round trips under the same conditions.
   */
  readonly lockRoundTripMs: number | undefined;
}

export interface HttpContext {
  readonly urls: readonly string[];
  readonly admin: RedisAdmin;
  readonly config: BenchConfig;
  readonly log: (line: string) => void;
}

/** Slices per route: plain and locked alternate so both see the same machine load. */
const SLICES = 5;

interface Tally {
  requests: number;
  durationS: number;
  errors: number;
  non2xx: number;
  weighted: { mean: number; p50: number; p99: number };
  max: number;
}

export async function runHttp({ urls, admin, config, log }: HttpContext): Promise<HttpResult[]> {
  const results: HttpResult[] = [];
  let counter = 0;
  const slices = config.quick ? 2 : SLICES;
  const sliceS = Math.max(0.5, config.http.durationS / slices);
  for (const nodes of config.http.nodes) {
    await admin.flushAll(nodes);
    const child = forkTracked('./http-app.js', import.meta.url);
    try {
      const listening = nextMessage<{ type: 'listening'; port: number }>(
        child,
        'listening',
        30_000,
      );
      const message: HttpAppConfigMessage = { type: 'config', urls: urls.slice(0, nodes) };
      send(child, message);
      const { port } = await listening;
      const run = (
        route: Route,
        connections: number,
        duration: number,
      ): Promise<AutocannonResult> =>
        cannon({
          url: `http://127.0.0.1:${port}`,
          connections,
          duration,
          requests: [
            {
              method: 'GET',
              setupRequest: (request) => ({ ...request, path: `/${route}/${(counter += 1)}` }),
            },
          ],
        });
      const roundTrip = async (
        lock: 'ours' | 'limit',
      ): Promise<{ ops: number; totalMs: number }> => {
        const answer = nextMessage<RoundTripReply>(child, 'rt', 30_000);
        const request: RoundTripRequest = { type: 'measure-rt', lock, ms: 250, maxOps: 100_000 };
        send(child, request);
        return answer;
      };
      for (const route of ROUTES) await run(route, 1, config.http.warmupS);
      await roundTrip('ours');
      await roundTrip('limit');
      for (const connections of config.http.connections) {
        const tallies = new Map<Route, Tally>();
        const rt = { ours: { ops: 0, ms: 0 }, limit: { ops: 0, ms: 0 } };
        for (let slice = 0; slice < slices; slice += 1) {
          // Rotate which route goes first, so none always follows the round-trip probe.
          const order = ROUTES.map((_, i) => ROUTES[(i + slice) % ROUTES.length]!);
          for (const route of order) {
            const result = await run(route, connections, sliceS);
            const tally = tallies.get(route) ?? {
              requests: 0,
              durationS: 0,
              errors: 0,
              non2xx: 0,
              weighted: { mean: 0, p50: 0, p99: 0 },
              max: 0,
            };
            const n = result.requests.total;
            tally.requests += n;
            tally.durationS += result.duration;
            tally.errors += result.errors + result.timeouts;
            tally.non2xx += result.non2xx;
            tally.weighted.mean += result.latency.mean * n;
            tally.weighted.p50 += result.latency.p50 * n;
            tally.weighted.p99 += result.latency.p99 * n;
            tally.max = Math.max(tally.max, result.latency.max);
            tallies.set(route, tally);
          }
          if (connections === 1) {
            for (const lock of ['ours', 'limit'] as const) {
              const measured = await roundTrip(lock);
              rt[lock].ops += measured.ops;
              rt[lock].ms += measured.totalMs;
            }
          }
        }
        for (const route of ROUTES) {
          const own = route === 'locked' ? rt.ours : route === 'limit' ? rt.limit : undefined;
          const tally = tallies.get(route)!;
          const n = Math.max(1, tally.requests);
          const entry: HttpResult = {
            nodes,
            connections,
            route,
            requests: tally.requests,
            durationS: tally.durationS,
            reqPerSec: tally.requests / tally.durationS,
            msPerRequest: (connections * tally.durationS * 1_000) / n,
            latency: {
              mean: tally.weighted.mean / n,
              p50: tally.weighted.p50 / n,
              p99: tally.weighted.p99 / n,
              max: tally.max,
            },
            errors: tally.errors,
            non2xx: tally.non2xx,
            lockRoundTripMs: own && own.ops > 0 ? own.ms / own.ops : undefined,
          };
          results.push(entry);
          log(
            `  http ${nodes} node(s) c=${connections} ${route}: ${entry.reqPerSec.toFixed(0)} req/s, ` +
              `${entry.msPerRequest.toFixed(3)} ms/request, p99 ${entry.latency.p99.toFixed(1)} ms` +
              (entry.lockRoundTripMs !== undefined
                ? `, lock round trips ${entry.lockRoundTripMs.toFixed(3)} ms`
                : '') +
              (entry.errors || entry.non2xx
                ? `, ${entry.errors} errors, ${entry.non2xx} non-2xx`
                : ''),
          );
        }
      }
    } finally {
      await stopChild(child);
    }
  }
  return results;
}
