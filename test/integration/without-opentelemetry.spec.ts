import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type RedisFleet, startRedisFleet } from '../support/redis-fleet.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

/**
 * `@opentelemetry/api` is an optional peer: a process in which it cannot be resolved (hidden by
 * a resolution hook, however node_modules looks) loads the library, takes locks and publishes
 * diagnostics messages; only asking for telemetry fails, with a RedlockConfigError that says
 * what to install.
 */
describe('without @opentelemetry/api installed (real Redis)', () => {
  let fleet: RedisFleet;

  beforeAll(async () => {
    fleet = await startRedisFleet({ nodes: 1 });
  }, 30_000);

  afterAll(async () => {
    await fleet?.stop();
  });

  it('works, publishes to the channels, and refuses telemetry with a clear error', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--import',
        join(root, 'test/reliability/ts-register.mjs'),
        '--import',
        join(here, '../support/hide-opentelemetry.mjs'),
        join(here, '../support/without-opentelemetry.worker.mjs'),
      ],
      { cwd: root, env: { ...process.env, REDIS_URL: fleet.urls[0] }, timeout: 60_000 },
    );
    const out = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    const missing = expect.objectContaining({
      isConfigError: true,
      message: expect.stringContaining('npm install @opentelemetry/api'),
    });
    expect(out).toEqual({
      // The hook really hides the package: the test is not vacuous.
      apiLoads: false,
      apiError: 'ERR_MODULE_NOT_FOUND',
      result: 'ran',
      messages: ['acquire:acquired', 'release:released'],
      instrumentError: missing,
      moduleResult: 'ran',
      telemetryModuleError: missing,
    });
  }, 90_000);
});
