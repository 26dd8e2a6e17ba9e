/**
 * `npm run demo`: three instances of the sample ticket shop on three local Redis lock nodes, a
 * burst of concurrent purchases through the unlocked control route and through the locked
 * route, and what each did to the inventory. Every process it starts is stopped at the end,
 * also on Ctrl-C or an error.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findFreePort } from '../../test/support/free-port.js';
import { type RedisFleet, startRedisFleet } from '../../test/support/redis-fleet.js';
import { burst, formatTable, type BurstResult } from './burst.js';

const INSTANCES = 3;
const CAPACITY = Number(process.env.DEMO_CAPACITY ?? 50);
const REQUESTS = Number(process.env.DEMO_REQUESTS ?? 200);

const children: ChildProcess[] = [];
let fleet: RedisFleet | undefined;

function step(message: string): void {
  process.stdout.write(`[demo] ${message}\n`);
}

async function waitForHealth(url: string, child: ChildProcess): Promise<void> {
  const deadline = performance.now() + 30_000;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`instance exited with code ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} did not become healthy within 30 s`);
}

async function cleanup(): Promise<void> {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null) return resolve();
          const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
        }),
    ),
  );
  await fleet?.stop();
}

async function main(): Promise<void> {
  step(`starting ${INSTANCES} Redis lock nodes and 1 inventory node (redis-server)...`);
  fleet = await startRedisFleet({ nodes: INSTANCES + 1 });
  const lockNodes = fleet.urls.slice(0, INSTANCES).join(',');
  const inventory = fleet.urls[INSTANCES]!;
  step(`lock nodes: ${lockNodes}; inventory: ${inventory}`);

  const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'main.js');
  const consoleToken = randomBytes(12).toString('base64url');
  const urls: string[] = [];
  for (let i = 0; i < INSTANCES; i += 1) {
    const port = await findFreePort();
    const child = spawn(process.execPath, [main], {
      env: {
        ...process.env,
        PORT: String(port),
        REDLOCK_NODES: lockNodes,
        INVENTORY_URL: inventory,
        LOCK_CONSOLE_TOKEN: consoleToken,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(child);
    urls.push(`http://127.0.0.1:${port}`);
  }
  step(`starting ${INSTANCES} instances of the sample app on ${urls.join(', ')}...`);
  await Promise.all(urls.map((url, i) => waitForHealth(url, children[i]!)));
  step(`lock console: ${urls[0]}/ops/locks?token=${consoleToken}`);
  step(`from a terminal: npx nestjs-redlock watch --nodes ${lockNodes}`);

  const results: BurstResult[] = [];
  for (const route of ['unlocked', 'locked'] as const) {
    step(
      `${route}: ${REQUESTS} concurrent purchases of ${CAPACITY} seats across ${INSTANCES} instances...`,
    );
    const result = await burst(urls, route, {
      eventId: `demo-${route}`,
      capacity: CAPACITY,
      requests: REQUESTS,
    });
    step(`${route}: sold ${result.sold} of ${result.capacity} in ${result.ms} ms`);
    results.push(result);
  }
  process.stdout.write(`\n${formatTable(results)}\n\n`);
  const [unlocked, locked] = results;
  process.stdout.write(
    `seats oversold: unlocked ${unlocked!.oversold}, locked ${locked!.oversold}\n`,
  );
  if (locked!.oversold !== 0 || locked!.errors !== 0) process.exitCode = 1;
  if (process.env.DEMO_HOLD === '1') {
    step(
      `still running for you to look: ${urls[0]}/ops/locks?token=${consoleToken} (Ctrl-C to stop)`,
    );
    await new Promise(() => undefined); // until SIGINT
  } else {
    step('set DEMO_HOLD=1 to keep everything running afterwards, to look at the console and CLI');
  }
}

process.once('SIGINT', () => {
  step('interrupted: stopping everything...');
  void cleanup().then(() => process.exit(130));
});

main()
  .catch((error: unknown) => {
    process.stderr.write(
      `[demo] failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exitCode = 1;
  })
  .finally(() => cleanup());
