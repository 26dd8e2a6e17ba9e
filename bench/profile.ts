/**
 * `npm run bench:profile -- [--contender=ours] [--workload=uncontended|many-keys|contended|http]
 * [--nodes=1] [--seconds=5]`: runs one contender on one workload in a child started with
 * `node --cpu-prof` (for `http`: the Nest app of the HTTP workload, once per route) and prints where
 * the CPU time went: self time by package and by function, and inclusive time of lib/
 * functions, counting only samples taken after the warm-up. The .cpuprofile lands in
 * .tmp/bench-profiles/ (open it in Chrome DevTools or speedscope for a flame graph).
 * `npm run bench` calls `profileRun` itself when an uncontended target is missed.
 */
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedisFleet } from '../test/support/redis-fleet.js';
import { messageOf } from './core/clock.js';
import type { ContenderId } from './core/contenders.js';
import { forkTracked, killAllChildren, nextMessage, send, stopChild } from './core/processes.js';
import { mono } from './core/clock.js';
import type { HttpAppConfigMessage } from './workloads/http-app.js';
import type { Route } from './workloads/http.js';
import { loadHttp } from './workloads/http-load.js';
import type { ProfileConfigMessage } from './workloads/profile-child.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  /** µs on the monotonic clock (the one `process.hrtime` reads). */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface TimeEntry {
  readonly name: string;
  readonly ms: number;
}

export interface ProfileAnalysis {
  readonly windowMs: number;
  readonly busyMs: number;
  /** Self time by package or area, descending. */
  readonly areas: readonly TimeEntry[];
  /** Self time by function, descending. */
  readonly functions: readonly TimeEntry[];
  /** Inclusive time of lib/ functions, descending. */
  readonly inclusive: readonly TimeEntry[];
}

function area(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native: syscalls, V8 builtins)';
  const path = url.replace(/^file:\/\//, '');
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (nm) return nm[1]!;
  if (path.includes('/dist-bench/lib/')) return 'lib/ (ours)';
  if (path.includes('/dist-bench/bench/')) return 'bench harness';
  if (path.startsWith('node:')) return 'node internals';
  return path;
}

function frameName(frame: CallFrame): string {
  const path = frame.url.replace(/^file:\/\//, '').replace(/.*\/(dist-bench|node_modules)\//, '');
  return `${frame.functionName || '(anonymous)'} ${path ? `${path}:${frame.lineNumber + 1}` : ''}`.trim();
}

const sorted = (map: Map<string, number>): TimeEntry[] =>
  [...map.entries()].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, ms: us / 1_000 }));

/** Self and inclusive time; `window` (monotonic ms) keeps only the samples taken inside it. */
export function analyse(
  profile: CpuProfile,
  window?: { from: number; to: number },
): ProfileAnalysis {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  let at = profile.startTime;
  let windowUs = 0;
  for (let i = 0; i < profile.samples.length; i += 1) {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (window && (at / 1_000 < window.from || at / 1_000 > window.to)) continue;
    windowUs += delta;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  }
  let idleUs = 0;
  const selfByFn = new Map<string, number>();
  const selfByArea = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const fn = frameName(frame);
    selfByFn.set(fn, (selfByFn.get(fn) ?? 0) + us);
    const a = area(frame.url, frame.functionName);
    selfByArea.set(a, (selfByArea.get(a) ?? 0) + us);
  }
  // Inclusive time of our own functions: each function counted once per stack.
  const subtree = new Map<number, number>();
  const childrenOf = (node: ProfileNode): ProfileNode[] =>
    (node.children ?? []).map((id) => byId.get(id)!);
  const sumSubtree = (node: ProfileNode): number => {
    let sum = selfUs.get(node.id) ?? 0;
    for (const child of childrenOf(node)) sum += sumSubtree(child);
    subtree.set(node.id, sum);
    return sum;
  };
  const root = profile.nodes[0]!;
  sumSubtree(root);
  const inclusive = new Map<string, number>();
  const walk = (node: ProfileNode, onPath: Set<string>): void => {
    const name = frameName(node.callFrame);
    const fresh = node.callFrame.url.includes('/dist-bench/lib/') && !onPath.has(name);
    if (fresh) {
      inclusive.set(name, (inclusive.get(name) ?? 0) + subtree.get(node.id)!);
      onPath.add(name);
    }
    for (const child of childrenOf(node)) walk(child, onPath);
    if (fresh) onPath.delete(name);
  };
  walk(root, new Set());
  return {
    windowMs: windowUs / 1_000,
    busyMs: (windowUs - idleUs) / 1_000,
    areas: sorted(selfByArea),
    functions: sorted(selfByFn),
    inclusive: sorted(inclusive),
  };
}

export function renderAnalysis(analysis: ProfileAnalysis, top = 25): string {
  const busy = analysis.busyMs;
  const list = (entries: readonly TimeEntry[], n: number): string[] =>
    entries
      .slice(0, n)
      .map(
        ({ name, ms }) =>
          `  ${((ms / busy) * 100).toFixed(1).padStart(5)} %  ${ms.toFixed(0).padStart(6)} ms  ${name}`,
      );
  return [
    `busy ${busy.toFixed(0)} ms of ${analysis.windowMs.toFixed(0)} ms measured (${((busy / analysis.windowMs) * 100).toFixed(0)} % busy; the rest is waiting for Redis)`,
    '',
    'self time by package / area (% of busy time):',
    ...list(analysis.areas, 15),
    '',
    `self time by function, top ${top}:`,
    ...list(analysis.functions, top),
    '',
    'inclusive time of lib/ functions (ours), top 20:',
    ...list(analysis.inclusive, 20),
  ].join('\n');
}

export interface ProfileRequest {
  readonly contender: ContenderId;
  readonly workload: ProfileConfigMessage['workload'];
  readonly urls: readonly string[];
  readonly seconds: number;
}

export interface ProfileOutcome {
  readonly contender: ContenderId;
  readonly workload: ProfileConfigMessage['workload'];
  readonly nodes: number;
  readonly summary: string;
  /** Operations (or acquisitions) done in the profiled window. */
  readonly ops: number;
  /** The .cpuprofile, relative to the repository. */
  readonly file: string;
  readonly analysis: ProfileAnalysis;
}

/** Profiles one contender on one workload in a `node --cpu-prof` child. */
export async function profileRun(request: ProfileRequest): Promise<ProfileOutcome> {
  const dir = join(ROOT, '.tmp', 'bench-profiles');
  mkdirSync(dir, { recursive: true });
  const before = new Set(readdirSync(dir));
  const child = forkTracked('./workloads/profile-child.js', import.meta.url, {
    execArgv: ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '200'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const done = nextMessage<{
    type: 'done';
    summary: string;
    ops: number;
    from: number;
    to: number;
  }>(child, 'done', request.seconds * 1_000 + 30_000);
  const message: ProfileConfigMessage = {
    type: 'config',
    contender: request.contender,
    urls: request.urls,
    workload: request.workload,
    seconds: request.seconds,
  };
  send(child, message);
  const { summary, ops, from, to } = await done;
  await exited;
  const file = readdirSync(dir)
    .filter((name) => name.endsWith('.cpuprofile') && !before.has(name))
    .map((name) => join(dir, name))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  if (!file) throw new Error('the child wrote no .cpuprofile');
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  return {
    contender: request.contender,
    workload: request.workload,
    nodes: request.urls.length,
    summary,
    ops,
    file: relative(ROOT, file),
    analysis: analyse(profile, { from, to }),
  };
}

/**
 * Profiles the HTTP app of the HTTP workload under one route at 1 connection: a fresh app process per
 * route, started with `--cpu-prof`, so routes can be compared per request.
 */
export async function profileHttp(
  urls: readonly string[],
  route: Route,
  seconds: number,
): Promise<{ reqPerSec: number; requests: number; file: string; analysis: ProfileAnalysis }> {
  const dir = join(ROOT, '.tmp', 'bench-profiles', `http-${route}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const child = forkTracked('./workloads/http-app.js', import.meta.url, {
    execArgv: ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '100'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const listening = nextMessage<{ type: 'listening'; port: number }>(child, 'listening', 30_000);
  const config: HttpAppConfigMessage = { type: 'config', urls };
  send(child, config);
  const { port } = await listening;
  let counter = 0;
  const run = (duration: number) =>
    loadHttp(port, 1, duration * 1_000, () => `/${route}/${(counter += 1)}`);
  await run(1);
  const from = mono();
  const result = await run(seconds);
  const to = mono();
  await stopChild(child, 5_000);
  await exited;
  const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
  if (!file) throw new Error('the app wrote no .cpuprofile');
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  return {
    reqPerSec: result.requests / result.durationS,
    requests: result.requests,
    file: relative(ROOT, join(dir, file)),
    analysis: analyse(profile, { from, to }),
  };
}

function arg(name: string, fallback: string): string {
  const found = process.argv.find((a) => a.startsWith(`--${name}=`));
  return found ? found.slice(name.length + 3) : fallback;
}

async function main(): Promise<void> {
  const contender = arg('contender', 'ours') as ContenderId;
  const workload = arg('workload', 'uncontended');
  const nodes = Number(arg('nodes', '1'));
  const seconds = Number(arg('seconds', '5'));
  const fleet = await startRedisFleet({ nodes });
  process.on('exit', killAllChildren);
  try {
    if (workload === 'http') {
      // Per request in the app process: the @WithLock route against the control route (the
      // hand-written lock called in the handler) and the plain route.
      for (const route of ['plain', 'limit', 'locked'] as const) {
        const { reqPerSec, requests, file, analysis } = await profileHttp(
          fleet.urls,
          route,
          seconds,
        );
        const perReq = (ms: number): string => ((ms * 1_000) / requests).toFixed(1).padStart(6);
        process.stdout.write(
          `== route ${route}: ${reqPerSec.toFixed(0)} req/s, app on CPU ${perReq(analysis.busyMs)} µs/request (${file})\n` +
            analysis.areas
              .slice(0, 10)
              .map((a) => `   ${perReq(a.ms)} µs/req  ${a.name}`)
              .join('\n') +
            '\n',
        );
      }
      return;
    }
    const outcome = await profileRun({
      contender,
      workload: workload as ProfileConfigMessage['workload'],
      urls: fleet.urls,
      seconds,
    });
    process.stdout.write(
      `${contender}, ${workload}, ${nodes} node(s), ${seconds} s: ${outcome.summary}\nprofile: ${outcome.file}\n\n` +
        `${renderAnalysis(outcome.analysis)}\n`,
    );
  } finally {
    killAllChildren();
    await fleet.stop();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`profile failed: ${messageOf(error)}\n`);
      process.exit(1);
    },
  );
}
