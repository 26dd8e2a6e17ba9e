/**
 * HTTP: the same Nest route plain and under `@WithLock`, driven from this process while the app
 * runs in a child. Every request asks for a new id, so every lock is uncontended: the
 * difference between the routes is what the lock adds to a request. The routes take turns in
 * slices, in a random order per round (like contenders in rounds), and after every round the
 * lock's own acquire + release (the app's `RedlockService`, one call at a time) is measured in
 * the same app, so the two are compared round by round under the same conditions.
 */
import type { BenchConfig } from '../core/config.js';
import { type Audit, auditKeys } from '../core/key-audit.js';
import { forkTracked, nextMessage, send, stopChild } from '../core/processes.js';
import type { RedisAdmin } from '../core/redis-tools.js';
import { interleave, type LoadSample } from '../core/rounds.js';
import { type Spread, spread } from '../core/stats.js';
import type { HttpAppConfigMessage, RoundTripReply, RoundTripRequest } from './http-app.js';
import { loadHttp, type LoadResult } from './http-load.js';

export type Route = 'plain' | 'locked' | 'service' | 'limit';
export const ROUTES: readonly Route[] = ['plain', 'locked', 'service', 'limit'];

export interface HttpResult {
  readonly nodes: number;
  readonly connections: number;
  readonly route: Route;
  readonly requests: number;
  readonly reqPerSec: number;
  /** connections × duration / requests, median over the slices. */
  readonly msPerRequest: number;
  /** Median over rounds of (this route − plain) in the same round, ms. */
  readonly addedMs: number | undefined;
  /** Latency percentiles, median over the slices. */
  readonly latency: { p50: number; p99: number };
  readonly errors: number;
  readonly non2xx: number;
  /**
   * Mean acquire + release of the route's lock (the app's RedlockService, or the hand-written
   * lock for the control route), median over rounds (1 connection only).
   */
  readonly lockRoundTripMs: number | undefined;
  /** Median over rounds of added ÷ lock round trip, paired by round. */
  readonly addedPerRoundTrip: Spread | undefined;
}

export interface HttpContext {
  readonly urls: readonly string[];
  readonly admin: RedisAdmin;
  readonly config: BenchConfig;
  readonly log: (line: string) => void;
}

export interface HttpBlock {
  readonly results: HttpResult[];
  readonly load: LoadSample[];
  readonly audits: Audit[];
}

const msPerRequest = (r: LoadResult, connections: number): number =>
  (connections * r.durationS * 1_000) / Math.max(1, r.requests);

export async function runHttp({ urls, admin, config, log }: HttpContext): Promise<HttpBlock> {
  const results: HttpResult[] = [];
  const load: LoadSample[] = [];
  const audits: Audit[] = [];
  const h = config.http;
  let counter = 0;
  // One app process for every node count: Nest's start-up is paid once, not per node count.
  const child = forkTracked('./http-app.js', import.meta.url);
  try {
    for (const nodes of h.nodes) {
      const listening = nextMessage<{ type: 'listening'; port: number }>(
        child,
        'listening',
        60_000,
      );
      const message: HttpAppConfigMessage = { type: 'config', urls: urls.slice(0, nodes) };
      send(child, message);
      const { port } = await listening;
      const run = (route: Route, connections: number, ms: number): Promise<LoadResult> =>
        loadHttp(port, connections, ms, () => `/${route}/${(counter += 1)}`);
      const roundTrip = (lock: 'ours' | 'limit'): Promise<RoundTripReply> => {
        const answer = nextMessage<RoundTripReply>(child, 'rt', 30_000);
        const request: RoundTripRequest = {
          type: 'measure-rt',
          lock,
          ms: h.roundTripMs,
          maxOps: 1e5,
        };
        send(child, request);
        return answer;
      };
      for (const route of ROUTES) await run(route, 1, h.warmupS * 1_000);
      await roundTrip('ours');
      await roundTrip('limit');
      for (const connections of h.connections) {
        const rt: Record<'ours' | 'limit', number[]> = { ours: [], limit: [] };
        const rounds = await interleave(ROUTES, h.slices, async (route, round) => {
          const result = await run(route as Route, connections, h.sliceS * 1_000);
          // Once per round at 1 connection (after its last slice): the locks' own round trips.
          if (connections === 1 && route === ROUTES[(round + ROUTES.length - 1) % ROUTES.length]) {
            for (const lock of ['ours', 'limit'] as const) {
              const measured = await roundTrip(lock);
              rt[lock].push(measured.totalMs / Math.max(1, measured.ops));
            }
          }
          return result;
        });
        load.push(...rounds.load);
        const plain = rounds.turns.get('plain')!.map((r) => msPerRequest(r, connections));
        for (const route of ROUTES) {
          const slices = rounds.turns.get(route)!;
          const own =
            route === 'locked' || route === 'service'
              ? rt.ours
              : route === 'limit'
                ? rt.limit
                : undefined;
          const perSlice = slices.map((r) => msPerRequest(r, connections));
          const added = route === 'plain' ? undefined : perSlice.map((v, i) => v - plain[i]!);
          const ratios =
            added && own && own.length === added.length ? added.map((a, i) => a / own[i]!) : [];
          const requests = slices.reduce((sum, r) => sum + r.requests, 0);
          const seconds = slices.reduce((sum, r) => sum + r.durationS, 0);
          const entry: HttpResult = {
            nodes,
            connections,
            route,
            requests,
            reqPerSec: requests / seconds,
            msPerRequest: spread(perSlice).median,
            addedMs: added ? spread(added).median : undefined,
            latency: {
              p50: spread(slices.map((r) => r.latency.p50)).median,
              p99: spread(slices.map((r) => r.latency.p99)).median,
            },
            errors: slices.reduce((sum, r) => sum + r.errors, 0),
            non2xx: slices.reduce((sum, r) => sum + r.non2xx, 0),
            lockRoundTripMs: own && own.length > 0 ? spread(own).median : undefined,
            addedPerRoundTrip: ratios.length > 0 ? spread(ratios) : undefined,
          };
          results.push(entry);
          log(
            `  http ${nodes} node(s) c=${connections} ${route}: ${entry.reqPerSec.toFixed(0)} req/s, ` +
              `${entry.msPerRequest.toFixed(3)} ms/request, p99 ${entry.latency.p99.toFixed(2)} ms` +
              (entry.addedMs !== undefined ? `, added ${entry.addedMs.toFixed(3)} ms` : '') +
              (entry.lockRoundTripMs !== undefined
                ? `, lock round trip ${entry.lockRoundTripMs.toFixed(3)} ms`
                : '') +
              (entry.errors || entry.non2xx
                ? `, ${entry.errors} errors, ${entry.non2xx} non-2xx`
                : ''),
          );
        }
      }
      audits.push({
        when: `after HTTP, ${nodes} node(s)`,
        nodes,
        owners: await auditKeys(admin.first(nodes)),
      });
      await admin.flushAll(nodes);
    }
  } finally {
    await stopChild(child);
  }
  return { results, load, audits };
}
