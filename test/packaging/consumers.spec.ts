/**
 * The packed tarball, installed from the npm registry's point of view into two real apps: a
 * Nest 11 CommonJS app made as `nest new` makes it, and a Nest 12 ES-module app. Each app's own
 * jest tests, a full type check and a build must pass; the compiled apps must run under plain
 * Node; and two instances of the compiled Nest 11 app record the SIGTERM timeline.
 *
 * Needs the npm registry (the apps install NestJS, jest and TypeScript) and `npm run build`
 * (run first when dist/ is older than lib/). Everything, npm's cache included, lives in one
 * temporary directory that is removed afterwards.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { findFreePort, releasePort } from '../support/free-port.js';
import { type RedisFleet, startRedisFleet } from '../support/redis-fleet.js';
import { type ConsumerApp, nest11App, nest12App } from './consumer-apps.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MINUTE = 60_000;

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function builtAfterSources(): boolean {
  try {
    const built = Math.min(
      statSync(join(ROOT, 'dist/lib/index.js')).mtimeMs,
      statSync(join(ROOT, 'dist/cjs/package.json')).mtimeMs,
    );
    return built >= newestMtime(join(ROOT, 'lib'));
  } catch {
    return false;
  }
}

async function sh(cwd: string, [command, ...args]: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    return await run(command!, args, {
      cwd,
      env: { ...process.env, ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(
      `\`${[command, ...args].join(' ')}\` failed in ${cwd}:\n${stdout ?? ''}\n${stderr ?? ''}`,
      { cause: error },
    );
  }
}

function writeApp(dir: string, app: ConsumerApp): void {
  for (const [file, content] of Object.entries(app.files)) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), content.trimStart());
  }
}

/** One timeline line an app printed (see consumer-apps.ts), with the instance it came from. */
interface TimelineEvent {
  t: number;
  pid: number;
  event: string;
  instance: string;
  [key: string]: unknown;
}

/** Timeline events as they arrive from every instance, with waiters for particular ones. */
class Timeline extends Array<TimelineEvent> {
  readonly #waiters: {
    match: (e: TimelineEvent) => boolean;
    resolve: (e: TimelineEvent) => void;
  }[] = [];

  add(event: TimelineEvent): void {
    this.push(event);
    for (const waiter of [...this.#waiters]) {
      if (!waiter.match(event)) continue;
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      waiter.resolve(event);
    }
  }

  /** Resolves with the first `event` of `instance`, past or future. */
  when(instance: string, event: string): Promise<TimelineEvent> {
    const match = (e: TimelineEvent) => e.instance === instance && e.event === event;
    const seen = this.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }
}

/** A running compiled app: its timeline events as they arrive, and its exit. */
function startInstance(
  dir: string,
  main: string,
  port: number,
  instance: string,
  env: NodeJS.ProcessEnv,
  events: Timeline,
): {
  child: ChildProcess;
  listening: Promise<void>;
  exited: Promise<{ at: number; code: number | null; signal: string | null }>;
  output: string[];
} {
  const child = spawn(process.execPath, [main], {
    cwd: dir,
    env: { ...process.env, ...env, PORT: String(port), TIMELINE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  let onListening!: () => void;
  const listening = new Promise<void>((resolve) => (onListening = resolve));
  createInterface({ input: child.stdout }).on('line', (line) => {
    output.push(line);
    if (!line.startsWith('{')) return;
    const event = { ...(JSON.parse(line) as TimelineEvent), instance };
    events.add(event);
    if (event.event === 'listening') onListening();
  });
  createInterface({ input: child.stderr }).on('line', (line) => output.push(line));
  const exited = new Promise<{ at: number; code: number | null; signal: string | null }>(
    (resolve) => child.once('exit', (code, signal) => resolve({ at: Date.now(), code, signal })),
  );
  return { child, listening, exited, output };
}

describe('the packed tarball in real consumer apps', () => {
  let work: string;
  let fleet: RedisFleet;
  const apps: Record<'nest11' | 'nest12', { dir: string; app: ConsumerApp }> = {} as never;

  beforeAll(async () => {
    if (!builtAfterSources()) await sh(ROOT, ['npm', 'run', 'build']);
    work = mkdtempSync(join(tmpdir(), 'nestjs-redlock-consumers-'));
    const { stdout } = await sh(ROOT, [
      'npm',
      'pack',
      '--ignore-scripts',
      '--silent',
      '--pack-destination',
      work,
    ]);
    const tarball = join(work, stdout.trim().split('\n').pop()!);
    fleet = await startRedisFleet({ nodes: 1 });
    apps.nest11 = { dir: join(work, 'nest11'), app: nest11App(tarball) };
    apps.nest12 = { dir: join(work, 'nest12'), app: nest12App(tarball) };
    await Promise.all(
      Object.values(apps).map(async ({ dir, app }) => {
        writeApp(dir, app);
        // npm's cache lives in the temporary directory too: nothing is left behind.
        await sh(dir, [
          'npm',
          'install',
          '--no-audit',
          '--no-fund',
          '--loglevel=error',
          '--cache',
          join(work, 'npm-cache'),
        ]);
      }),
    );
  }, 10 * MINUTE);

  afterAll(async () => {
    await fleet?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it.each(['nest11', 'nest12'] as const)(
    '%s: the app’s own jest tests (unit and e2e on real Redis), a full type check and the build pass',
    async (name) => {
      const { dir, app } = apps[name];
      for (const check of app.checks) {
        await sh(dir, check, { REDLOCK_NODES: fleet.urls[0] });
      }
    },
    5 * MINUTE,
  );

  it.each(['nest11', 'nest12'] as const)(
    '%s: the compiled app runs under plain Node and serves a locked route',
    async (name) => {
      const { dir, app } = apps[name];
      const port = await findFreePort();
      const events = new Timeline();
      const instance = startInstance(
        dir,
        app.main,
        port,
        name,
        { REDLOCK_NODES: fleet.urls[0] },
        events,
      );
      try {
        await Promise.race([
          instance.listening,
          instance.exited.then(() => {
            throw new Error(`the app exited:\n${instance.output.join('\n')}`);
          }),
        ]);
        const response = await fetch(`http://127.0.0.1:${port}/orders/1/pay`, { method: 'POST' });
        expect(response.status).toBe(201);
        expect(await response.json()).toMatchObject({ id: 1 });
      } finally {
        instance.child.kill('SIGTERM');
        await instance.exited;
        releasePort(port);
      }
    },
    MINUTE,
  );

  it(
    'SIGTERM timeline: two instances of the Nest 11 app on one Redis',
    async () => {
      const { dir, app } = apps.nest11;
      const [portA, portB] = [await findFreePort(), await findFreePort()];
      const events = new Timeline();
      const env = { REDLOCK_NODES: fleet.urls[0] };
      const a = startInstance(dir, app.main, portA, 'A', env, events);
      const b = startInstance(dir, app.main, portB, 'B', env, events);
      try {
        await Promise.all([a.listening, b.listening]);
        const mark = (instance: string, event: string): void => {
          events.add({ t: Date.now(), pid: 0, event, instance });
        };
        // A 3 s job on A (its lock has a 1 s ttl, so it renews itself through the shutdown).
        mark('A', 'request-sent');
        const requestA = fetch(`http://127.0.0.1:${portA}/orders/1/settle?ms=3000`, {
          method: 'POST',
        }).then((response) => {
          mark('A', `response ${response.status}`);
          return response.status;
        });
        await events.when('A', 'work-start');
        a.child.kill('SIGTERM');
        mark('A', 'sigterm-sent');
        const requestB = fetch(`http://127.0.0.1:${portB}/orders/1/settle?ms=0`, {
          method: 'POST',
        }).then((response) => {
          mark('B', `response ${response.status}`);
          return response.status;
        });
        // New work on the instance that is shutting down is refused at once: once the signal
        // has arrived (it is delivered asynchronously; a request sent before is served).
        await events.when('A', 'sigterm');
        const refused = await fetch(`http://127.0.0.1:${portA}/orders/2/pay`, { method: 'POST' });
        mark('A', `new request during shutdown: ${refused.status}`);
        expect(refused.status).toBe(503);
        expect(await requestA).toBe(201);
        expect(await requestB).toBe(201);
        const exitA = await a.exited;
        events.add({
          t: exitA.at,
          pid: 0,
          event: `exited (${exitA.signal ?? exitA.code})`,
          instance: 'A',
        });

        const at = (instance: string, event: string): number =>
          events.find((e) => e.instance === instance && e.event === event)?.t ?? NaN;
        const sigterm = at('A', 'sigterm');
        expect(sigterm).toBeLessThan(at('A', 'work-end'));
        // A's lock stayed held until its work ended; B started only after that.
        expect(at('A', 'lock-released')).toBeGreaterThanOrEqual(at('A', 'work-end'));
        expect(at('B', 'lock-acquired')).toBeGreaterThanOrEqual(at('A', 'work-end'));
        expect(at('B', 'work-start')).toBeGreaterThanOrEqual(at('A', 'work-end'));
        expect(exitA.at).toBeGreaterThanOrEqual(at('A', 'response 201'));

        const t0 = at('A', 'request-sent');
        const lines = [...events]
          .filter((e) => e.event !== 'listening')
          .sort((x, y) => x.t - y.t)
          .map((e) => `  +${String(e.t - t0).padStart(5)} ms  ${e.instance}  ${e.event}`);
        console.log(`SIGTERM timeline (two instances, one Redis):\n${lines.join('\n')}`);
      } finally {
        for (const instance of [a, b]) {
          if (instance.child.exitCode === null && instance.child.signalCode === null) {
            instance.child.kill('SIGKILL');
          }
          await instance.exited;
        }
        releasePort(portA);
        releasePort(portB);
      }
    },
    MINUTE,
  );
});
