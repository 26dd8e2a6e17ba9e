// Jest loads globalSetup outside the test module system (moduleNameMapper does not apply), so
// this file imports nothing relative; its messages mirror those in redis-fleet.ts.
import { spawnSync } from 'node:child_process';

/**
 * Fails the whole run up front, with what to install, instead of letting every integration
 * suite time out (or, worse, skip) on a machine without Redis.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.REDLOCK_TEST_DOCKER === '1') {
    // A variable specifier keeps tsc from resolving a package that is not a declared dependency.
    const specifier = 'testcontainers';
    try {
      await import(specifier);
    } catch (error) {
      throw new Error(
        'REDLOCK_TEST_DOCKER=1 needs `npm i -D testcontainers` and a reachable Docker engine ' +
          `(${error instanceof Error ? error.message : String(error)})`,
        { cause: error },
      );
    }
    return;
  }

  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    const detail = probe.error ? probe.error.message : probe.stderr.trim();
    throw new Error(
      'redis-server was not found on PATH. The integration tests run real Redis servers: ' +
        'install it (Debian/Ubuntu: `apt-get install redis-server`, macOS: `brew install redis`), ' +
        `or set REDLOCK_TEST_DOCKER=1 to start standalone nodes in Docker via testcontainers. (${detail})`,
    );
  }
}
