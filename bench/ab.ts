/**
 * `npm run bench:ab -- --base=<commit> [--nodes=1] [--in-flight=1] [--rounds=9] [--ops=2000]
 * [--instant] [--hooks] [--layers] [--peers] [--max-steal=<percent>]`:
 * the engine of another commit ("base") against this checkout's ("new") and the hand-written
 * loop, in one process, on the same throwaway redis-servers, taking turns within each round in
 * an order drawn afresh per round (see `roundOrder`). For a change to the lock path: on this
 * shared 2-core machine two runs of the full bench differ by more than most such changes, while
 * turns in one process, paired by round, compare like with like.
 *
 * Per contender: ops/s, client CPU (`process.cpuUsage`), Redis main-thread CPU, p99, and GC
 * pauses, all per operation, medians over rounds, and the CPU the hypervisor took during its
 * turns (median and worst: a contender whose turns were robbed more has a suspect ratio); then
 * the paired ratios new ÷ base, new ÷ loop and base ÷ loop with their min–max. Uncontended
 * acquire + release on a new key per call through `Redlock` (the engine without Nest: the Nest
 * layer is the same for both).
 *
 * `--hooks`: turns on `AsyncLocalStorage`'s promise hooks first, as the first `using` or
 * `@WithLock` call does in an application (and nestjs-cls or OpenTelemetry's context manager
 * do anyway): every promise then costs more, so a path with fewer promises gains more.
 *
 * `--instant`: nodes that answer at once, in process (no Redis, no loop): the library's own
 * CPU per lock, without the syscalls that dominate and blur it on real connections.
 *
 * `--layers`: two more contestants. `adapt`: this checkout's adapters (the Redis client layer
 * of the library) driven by a loop of the hand-written one's shape, without the engine. Then
 * new ÷ adapt is what the engine costs over its adapters, and adapt ÷ loop what the adapters
 * cost over calling ioredis directly. `lite`: the same adapters under a minimal client that
 * keeps Redlock's rules (per-node timeout, validity), see `liteOf`. `compact`: the engine's
 * uncontended path rebuilt in the loop's shape with the features a lock must keep there (see
 * `compact-client.ts`): what a rewrite of the lock path could gain at most.
 *
 * `--max-steal=<percent>`: a round in which any turn lost more than that share of the CPU to
 * the hypervisor (other guests of a shared host, `/proc/stat` steal) is run again, at most
 * twice the rounds asked for in all; the header says how many were. On a host that steals in
 * bursts, those rounds otherwise decide the spread and often the median.
 *
 * `--peers`: node-redlock, @sesamecare-oss/redlock (both retry 10±10 ms) and redis-semaphore,
 * called as the full bench calls them, in the same rounds. With `--layers`, adapt ÷ peer is
 * what ours would reach against that peer if the engine cost nothing: a bound on what any
 * change to the engine alone can gain.
 *
 * The base commit is built with the project's TypeScript in a temporary `git worktree` (node
 * modules linked from this checkout), which is removed afterwards.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { RedisConnection } from '../lib/adapters/redis-connection.js';
import type { AcquireReply, OwnerReply } from '../lib/interfaces/lock-adapter.interface.js';
import { RedisLockAdapter } from '../lib/adapters/redis-lock.adapter.js';
import * as ours from '../lib/index.js';
import { ownerValue } from '../lib/services/owner-value.js';
import { majorityOf } from '../lib/services/quorum.js';
import { startRedisFleet } from '../test/support/redis-fleet.js';
import { createLimit } from './contenders/limit.js';
import { compactOf } from './core/compact-client.js';
import { createContender } from './core/contenders.js';
import { cpuTimes, stealPercent } from './core/cpu-steal.js';
import { roundOrder } from './core/rounds.js';
import { RedisAdmin } from './core/redis-tools.js';
import { pairedRatios, percentile, spread, type Spread } from './core/stats.js';

/** The peers of `--peers`, in their best configuration for this workload. */
const PEERS = ['redlock-fast', 'sesame-fast', 'semaphore'] as const;
type PeerId = (typeof PEERS)[number];

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

interface Args {
  readonly base: string;
  readonly nodes: number;
  readonly inFlight: number;
  readonly rounds: number;
  readonly ops: number;
  readonly instant: boolean;
  readonly hooks: boolean;
  readonly layers: boolean;
  readonly peers: boolean;
  /** `--max-steal=<percent>`: rounds in which a turn lost more CPU to the hypervisor run again. */
  readonly maxSteal: number | undefined;
}

function parseArgs(argv: readonly string[]): Args {
  const get = (name: string): string | undefined =>
    argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
  const count = (name: string, fallback: number): number => {
    const value = Number(get(name) ?? fallback);
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name}: a whole number >= 1`);
    return value;
  };
  const maxSteal = get('max-steal') === undefined ? undefined : Number(get('max-steal'));
  if (maxSteal !== undefined && !(maxSteal > 0 && maxSteal <= 100)) {
    throw new Error('--max-steal: a percentage above 0 and at most 100');
  }
  const base = get('base');
  if (!base) throw new Error('--base=<commit> is required (the build to compare against)');
  return {
    base,
    nodes: count('nodes', 1),
    inFlight: count('in-flight', 1),
    rounds: count('rounds', 9),
    ops: count('ops', 2_000),
    instant: argv.includes('--instant'),
    hooks: argv.includes('--hooks'),
    layers: argv.includes('--layers'),
    peers: argv.includes('--peers'),
    maxSteal,
  };
}

interface Contestant {
  readonly label: 'base' | 'new' | 'adapt' | 'loop' | 'lite' | 'compact' | PeerId;
  cycle(key: string): Promise<void>;
  close(): Promise<void>;
}

type Library = Pick<typeof ours, 'createLockAdapter' | 'Redlock'> & {
  RedisLockAdapter: typeof RedisLockAdapter;
};

/** A connection whose every call succeeds at once: a SET grants, a script releases. */
function instantConnection(name: string): RedisConnection {
  return {
    name,
    cluster: false,
    shardedSubscriptions: false,
    keyPrefix: '',
    evalScript: () => Promise.resolve('ok'),
    command: (command) => Promise.resolve(command === 'SET' ? null : 1),
    subscriber: () => {
      throw new Error('no waiting on instant nodes');
    },
    ready: () => Promise.resolve(),
    masters: () => Promise.resolve([]),
    close: () => Promise.resolve(),
  };
}

async function engineOf(
  label: 'base' | 'new',
  lib: Library,
  urls: readonly string[],
  instant: boolean,
) {
  const adapters = urls.map((url) =>
    instant ? new lib.RedisLockAdapter(instantConnection(url)) : lib.createLockAdapter(url),
  );
  await Promise.all(adapters.map((adapter) => adapter.ready?.(5_000) ?? Promise.resolve()));
  const engine = new lib.Redlock(adapters);
  const options = { ttl: 10_000 };
  return {
    label,
    cycle: async (key: string) => {
      const lock = await engine.acquire(key, options);
      await lock.release();
    },
    close: async () => {
      await engine.close();
      await Promise.all(adapters.map((adapter) => adapter.close()));
    },
  } satisfies Contestant;
}

/**
 * This checkout's adapters without the engine, in the hand-written loop's shape: the acquisition
 * to every node, decided at a majority of grants, then the release to every node, done at a
 * majority of answers (an uncontended key: a refusal does not happen here).
 */
async function adaptersOf(urls: readonly string[]): Promise<Contestant> {
  const adapters = urls.map((url) => ours.createLockAdapter(url));
  await Promise.all(adapters.map((adapter) => adapter.ready?.(5_000) ?? Promise.resolve()));
  const quorum = majorityOf(adapters.length);
  // Any answer but a refusal counts: a release here answers `ok` (or `expired`, never `taken`).
  const majority = (calls: readonly Promise<AcquireReply | OwnerReply>[]): Promise<number> =>
    countTo(calls, quorum, (reply) => typeof reply === 'string' || reply.acquired);
  let sequence = 0;
  return {
    label: 'adapt',
    cycle: async (key) => {
      const keys = [key];
      const value = `adapt-${process.pid}-${(sequence += 1)}`;
      const granted = await majority(
        adapters.map((adapter) => adapter.acquire(keys, value, 10_000)),
      );
      if (granted < quorum) throw new Error(`adapters: ${granted} of ${adapters.length} granted`);
      await majority(adapters.map((adapter) => adapter.release(keys, value)));
    },
    close: async () => {
      await Promise.all(adapters.map((adapter) => adapter.close()));
    },
  };
}

/**
 * A minimal Redlock client on this checkout's adapters (`--layers`): a fresh owner value, the
 * acquisition to every node with a per-node timeout (a `setTimeout` per fan-out), granted at a
 * majority within the validity (`ttl - elapsed - drift`), then the release to every node, done
 * at a majority. No lease, events, breakers, waiting or abort signals: new ÷ lite is what the
 * engine's features cost over the least a correct client must do, lite ÷ loop what that least
 * costs over the hand-written loop (which has no timeout and no validity check).
 */
async function liteOf(urls: readonly string[]): Promise<Contestant> {
  const adapters = urls.map((url) => ours.createLockAdapter(url));
  await Promise.all(adapters.map((adapter) => adapter.ready?.(5_000) ?? Promise.resolve()));
  const quorum = majorityOf(adapters.length);
  const ttl = 10_000;
  const count = (calls: readonly Promise<AcquireReply | OwnerReply>[]): Promise<number> =>
    countTo(
      calls,
      quorum,
      (reply) => (typeof reply === 'string' ? reply === 'ok' : reply.acquired),
      200,
    );
  return {
    label: 'lite',
    cycle: async (key) => {
      const keys = [key];
      const value = ownerValue();
      const start = performance.now();
      const granted = await count(adapters.map((a) => a.acquire(keys, value, ttl)));
      const deadline = start + ttl - (Math.floor(ttl * 0.01) + 2);
      if (granted < quorum || deadline <= performance.now()) throw new Error('lite: not granted');
      const lease = { keys, value, deadline };
      await count(adapters.map((a) => a.release(lease.keys, lease.value)));
    },
    close: async () => {
      await Promise.all(adapters.map((adapter) => adapter.close()));
    },
  };
}

/**
 * How many of `calls` were `granted`, once `quorum` of them were, every call answered, or (with
 * `timeout`, the per-node timeout of a correct client) that many ms passed.
 */
function countTo<T>(
  calls: readonly Promise<T>[],
  quorum: number,
  granted: (reply: T) => boolean,
  timeout?: number,
): Promise<number> {
  return new Promise((resolve) => {
    let ok = 0;
    let answered = 0;
    const timer = timeout === undefined ? undefined : setTimeout(() => resolve(ok), timeout);
    const count = (yes: boolean): void => {
      answered += 1;
      if (yes) ok += 1;
      if (ok === quorum || answered === calls.length) {
        clearTimeout(timer);
        resolve(ok);
      }
    };
    for (const call of calls)
      call.then(
        (reply) => count(granted(reply)),
        () => count(false),
      );
  });
}

/** Builds `commit` in a temporary worktree; returns its lib and how to remove it. */
function buildBase(commit: string): { entry: string; remove: () => void } {
  const dir = join(mkdtempSync(join(tmpdir(), 'redlock-ab-')), 'base');
  execFileSync('git', ['worktree', 'add', '--detach', '--quiet', dir, commit], { cwd: ROOT });
  const remove = (): void => {
    execFileSync('git', ['worktree', 'remove', '--force', dir], { cwd: ROOT });
    rmSync(dirname(dir), { recursive: true, force: true });
  };
  try {
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    execFileSync(
      process.execPath,
      [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--noCheck'],
      { cwd: dir, stdio: 'inherit' },
    );
  } catch (error) {
    remove();
    throw error;
  }
  return { entry: pathToFileURL(join(dir, 'dist/lib/index.js')).href, remove };
}

/** A contender's median CPU stolen per turn and its worst turn: `3.1 (21.4)`. */
function stealOf(turns: readonly Turn[]): string {
  const known = turns.map((t) => t.steal).filter((v): v is number => v !== undefined);
  if (known.length === 0) return '–';
  return `${spread(known).median.toFixed(1)} (${Math.max(...known).toFixed(1)})`;
}

interface Turn {
  readonly ops: number;
  readonly cpuUs: number;
  readonly userUs: number;
  readonly redisUs: number;
  readonly p99: number;
  readonly gcMs: number;
  /** Percent of the CPU the hypervisor gave to other guests during the turn (Linux). */
  readonly steal: number | undefined;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  // Enabled by a store's first run and on from then on, for the whole process.
  if (args.hooks) new AsyncLocalStorage<number>().run(1, () => undefined);
  const base = buildBase(args.base);
  const fleet = args.instant ? undefined : await startRedisFleet({ nodes: args.nodes });
  const urls = fleet?.urls ?? Array.from({ length: args.nodes }, (_, i) => `instant://${i}`);
  const admin = fleet && new RedisAdmin(fleet.urls);
  let gcMs = 0;
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMs += entry.duration;
  });
  gc.observe({ entryTypes: ['gc'] });
  const contestants: Contestant[] = [];
  try {
    const baseLib = {
      ...((await import(base.entry)) as Library),
      ...((await import(base.entry.replace(/index\.js$/, 'adapters/redis-lock.adapter.js'))) as {
        RedisLockAdapter: typeof RedisLockAdapter;
      }),
    };
    contestants.push(await engineOf('base', baseLib, urls, args.instant));
    contestants.push(await engineOf('new', { ...ours, RedisLockAdapter }, urls, args.instant));
    if (fleet && args.layers) contestants.push(await adaptersOf(fleet.urls));
    if (fleet && args.layers) contestants.push(await liteOf(fleet.urls));
    if (fleet && args.layers) {
      contestants.push({ label: 'compact', ...(await compactOf(fleet.urls)) });
    }
    if (fleet) {
      const limit = await createLimit(fleet.urls, { ttl: 10_000, waitMs: 0, mode: 'uncontended' });
      contestants.push({
        label: 'loop',
        cycle: async (key) => {
          await limit.release(await limit.acquire(key));
        },
        close: () => limit.close(),
      });
    }
    if (fleet && args.peers) {
      for (const id of PEERS) {
        const peer = await createContender(id, fleet.urls, {
          ttl: 10_000,
          waitMs: 0,
          mode: 'uncontended',
        });
        contestants.push({
          label: id,
          cycle: async (key) => {
            await peer.release(await peer.acquire(key));
          },
          close: () => peer.close(),
        });
      }
    }

    let sequence = 0;
    const turn = async (contestant: Contestant, ops: number): Promise<Turn> => {
      const latencies: number[] = [];
      let started = 0;
      const redisBefore = (await admin?.stats(args.nodes))?.mainThreadCpuUs ?? 0;
      const gcBefore = gcMs;
      const cpuBefore = process.cpuUsage();
      const times = cpuTimes();
      const began = performance.now();
      const lane = async (): Promise<void> => {
        while (started < ops) {
          started += 1;
          const at = performance.now();
          await contestant.cycle(`ab:${contestant.label}:${(sequence += 1)}`);
          latencies.push(performance.now() - at);
        }
      };
      await Promise.all(Array.from({ length: args.inFlight }, lane));
      const elapsed = performance.now() - began;
      const cpu = process.cpuUsage(cpuBefore);
      const steal = stealPercent(times);
      // GC entries arrive on a later turn of the loop.
      await new Promise((resolve) => setImmediate(resolve));
      const redisAfter = (await admin?.stats(args.nodes))?.mainThreadCpuUs ?? 0;
      latencies.sort((a, b) => a - b);
      return {
        ops: (ops / elapsed) * 1_000,
        cpuUs: (cpu.user + cpu.system) / ops,
        userUs: cpu.user / ops,
        redisUs: (redisAfter - redisBefore) / ops,
        p99: percentile(latencies, 99),
        gcMs: ((gcMs - gcBefore) / ops) * 1_000,
        steal,
      };
    };

    for (const contestant of contestants) await turn(contestant, Math.min(args.ops, 1_000));
    const runTimes = cpuTimes();
    const turns = new Map<string, Turn[]>(contestants.map((c) => [c.label, []]));
    let rerun = 0;
    for (let round = 0; round < args.rounds; round += 1) {
      const taken = new Map<string, Turn>();
      for (const contestant of roundOrder(contestants)) {
        taken.set(contestant.label, await turn(contestant, args.ops));
      }
      // A whole round goes, never one turn: every contender's kept turns then pass the same
      // test, so dropping them favours none. Bounded, so a machine that stays robbed still ends.
      const { maxSteal } = args;
      const robbed =
        maxSteal !== undefined && [...taken.values()].some((t) => (t.steal ?? 0) > maxSteal);
      if (robbed && rerun < 2 * args.rounds) {
        rerun += 1;
        round -= 1;
        continue;
      }
      for (const [label, result] of taken) turns.get(label)!.push(result);
    }

    const load = (await import('node:os')).loadavg()[0]!.toFixed(2);
    const stolen = stealPercent(runTimes);
    console.log(
      `A/B ${args.base} (base) vs this checkout (new)${fleet ? ' vs the loop' : ''}: ` +
        `${args.nodes} ${fleet ? 'node(s)' : 'instant node(s)'}, ` +
        `${args.inFlight} in flight, ${args.rounds} rounds of ${args.ops} locks, load ${load}` +
        (stolen === undefined ? '' : `, CPU stolen ${stolen.toFixed(1)} %`) +
        (args.maxSteal === undefined
          ? ''
          : `, ${rerun} round(s) run again for more than ${args.maxSteal} % stolen in a turn`) +
        (args.hooks ? ', AsyncLocalStorage promise hooks on' : ''),
    );
    const med = (label: string, pick: (t: Turn) => number): string =>
      spread(turns.get(label)!.map(pick)).median.toFixed(1);
    console.log(
      '                ops/s  client µs/op  of it user  Redis µs/op   p99 ms  GC ms/1k ops  stolen % (max)',
    );
    for (const { label } of contestants) {
      console.log(
        `${label.padEnd(12)} ${med(label, (t) => t.ops).padStart(9)} ${med(label, (t) => t.cpuUs).padStart(13)}` +
          ` ${med(label, (t) => t.userUs).padStart(11)}` +
          ` ${med(label, (t) => t.redisUs).padStart(12)} ${spread(
            turns.get(label)!.map((t) => t.p99),
          )
            .median.toFixed(2)
            .padStart(8)}` +
          ` ${med(label, (t) => t.gcMs).padStart(13)}  ${stealOf(turns.get(label)!).padStart(14)}`,
      );
    }
    const show = (name: string, ratio: Spread): string =>
      `${name}: ${ratio.median.toFixed(3)}× (${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)})`;
    const ops = (label: string): number[] => turns.get(label)!.map((t) => t.ops);
    const cpu = (label: string): number[] => turns.get(label)!.map((t) => t.cpuUs);
    const lines = [
      show('new ÷ base ops/s', pairedRatios(ops('new'), ops('base'))),
      show('client CPU', pairedRatios(cpu('new'), cpu('base'))),
    ];
    if (fleet) {
      lines.push(
        show('new ÷ loop', pairedRatios(ops('new'), ops('loop'))),
        show('base ÷ loop', pairedRatios(ops('base'), ops('loop'))),
      );
    }
    if (fleet && args.layers) {
      lines.push(
        show('new ÷ adapt', pairedRatios(ops('new'), ops('adapt'))),
        show('adapt ÷ loop', pairedRatios(ops('adapt'), ops('loop'))),
        show('lite ÷ loop', pairedRatios(ops('lite'), ops('loop'))),
        show('new ÷ lite', pairedRatios(ops('new'), ops('lite'))),
        show('lite ÷ adapt', pairedRatios(ops('lite'), ops('adapt'))),
        show('compact ÷ loop', pairedRatios(ops('compact'), ops('loop'))),
        show('new ÷ compact', pairedRatios(ops('new'), ops('compact'))),
        show('compact ÷ lite', pairedRatios(ops('compact'), ops('lite'))),
      );
    }
    if (fleet && args.peers) {
      for (const id of PEERS) {
        lines.push(show(`new ÷ ${id}`, pairedRatios(ops('new'), ops(id))));
        if (args.layers) lines.push(show(`adapt ÷ ${id}`, pairedRatios(ops('adapt'), ops(id))));
        lines.push(show(`${id} ÷ loop`, pairedRatios(ops(id), ops('loop'))));
      }
    }
    console.log(lines.join('\n'));
  } finally {
    gc.disconnect();
    for (const contestant of contestants) await contestant.close();
    admin?.close();
    await fleet?.stop();
    base.remove();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
