import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redlock } from '../../lib/services/redlock.engine.js';
import { closeAdapters, connectAdapters } from '../support/adapters.js';
import { type RedisFleet, startRedisFleet } from '../support/redis-fleet.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const REGISTER = join(root, 'test/reliability/ts-register.mjs');
const MAIN = join(root, 'lib/cli/main.ts');
const PASSWORD = 'cli-s3cret-pw';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI as a user runs it: a child process (from the TypeScript sources, compiled on load). */
function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', REGISTER, MAIN, ...args],
      { env: { ...process.env, REDLOCK_NODES: '', ...env }, timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** `npx nestjs-redlock locks | release | watch` against real redis-server processes. */
describe('nestjs-redlock CLI', () => {
  let fleet: RedisFleet;
  let worker: Redlock;

  beforeAll(async () => {
    fleet = await startRedisFleet({ nodes: 3, password: PASSWORD });
    worker = new Redlock(await connectAdapters(fleet.urls), { instanceName: 'cli-test-worker' });
  }, 30_000);

  afterAll(async () => {
    await worker?.close();
    await closeAdapters(worker?.adapters ?? []);
    await fleet?.stop();
  });

  const nodes = () => fleet.urls.join(',');
  const noSecret = (run: Run) => {
    expect(run.stdout).not.toContain(PASSWORD);
    expect(run.stderr).not.toContain(PASSWORD);
  };

  it('lists held locks as a table and as JSON, without credentials', async () => {
    const lock = await worker.acquire('cli:order:1', { ttl: 30_000, fencing: true });
    try {
      const table = await cli(['locks', '--nodes', nodes()]);
      expect(table).toMatchObject({ code: 0, stderr: '' });
      expect(table.stdout).toMatch(/^RESOURCE\s+MODE\s+HOLDER/m);
      expect(table.stdout).toMatch(/cli:order:1\s+write\s+cli-test-worker \(/);
      expect(table.stdout).toMatch(/3\/3/);
      noSecret(table);

      const json = await cli(['locks', '--json', '--pattern', 'cli:*'], { REDLOCK_NODES: nodes() });
      expect(json.code).toBe(0);
      const parsed = JSON.parse(json.stdout) as { locks: { resource: string }[] };
      expect(parsed.locks.map((l) => l.resource)).toEqual(['cli:order:1']);
      expect(json.stdout).not.toContain(lock.value);
      noSecret(json);

      const none = await cli(['locks', '--nodes', nodes(), '--pattern', 'other:*']);
      expect(none.stdout.trim()).toBe('No lock is held.');
    } finally {
      await lock.release();
    }
  });

  it('force-releases a lock, naming who did it', async () => {
    const lock = await worker.acquire('cli:stuck', { ttl: 30_000 });
    const released = await cli(['release', 'cli:stuck', '--nodes', nodes(), '--by', 'alice']);
    expect(released).toMatchObject({ code: 0, stderr: '' });
    expect(released.stdout).toMatch(/Released cli:stuck: deleted on 3 of 3 nodes/);
    expect(await fleet.nodes[0]!.client({ password: PASSWORD }).exists('lock:cli:stuck')).toBe(0);
    await expect(lock.extend()).rejects.toThrow();
    const again = await cli(['release', 'cli:stuck', '--nodes', nodes(), '--by', 'alice']);
    expect(again.stdout).toMatch(/was not held on any node/);
    noSecret(released);
  });

  it('watch refreshes until it is told to stop', async () => {
    const lock = await worker.acquire('cli:watched', { ttl: 30_000 });
    try {
      const run = await cli(['watch', '--nodes', nodes(), '--interval', '100', '--count', '3']);
      expect(run.code).toBe(0);
      expect(run.stdout.match(/Ctrl-C to stop/g)).toHaveLength(3);
      expect(run.stdout.match(/cli:watched/g)).toHaveLength(3);
    } finally {
      await lock.release();
    }
  });

  it('explains bad command lines (exit 2) and unreachable nodes (exit 1) without secrets', async () => {
    const usage = await cli(['release', 'x', '--nodes', nodes()]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/needs --by/);
    const pattern = await cli(['locks', '--nodes', nodes(), '--pattern', 'a[']);
    expect(pattern.code).toBe(2);
    expect(pattern.stderr).toMatch(/never closed/);
    expect((await cli(['locks'])).stderr).toMatch(/Give the lock nodes/);
    expect((await cli(['frobnicate', '--nodes', nodes()])).code).toBe(2);
    const down = await cli([
      'locks',
      '--timeout',
      '300',
      '--nodes',
      `redis://:${PASSWORD}@127.0.0.1:1`,
    ]);
    expect(down.code).toBe(1);
    expect(down.stdout).toMatch(/connection refused/);
    noSecret(down);
    const help = await cli(['--help']);
    expect(help).toMatchObject({ code: 0 });
    expect(help.stdout).toMatch(/Usage: nestjs-redlock/);
  });
});
