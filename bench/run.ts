/**
 * `npm run bench`: every workload, every contender, one run. See BENCHMARKS.md for the method.
 * Progress goes to stderr; the result tables go to stdout.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RedisFleet, startRedisFleet } from '../test/support/redis-fleet.js';
import { messageOf } from './core/clock.js';
import { type CliOptions, parseCli } from './core/config.js';
import { contendersFor } from './core/contenders.js';
import { cpuTimes, stealPercent } from './core/cpu-steal.js';
import { killAllChildren } from './core/processes.js';
import { RedisAdmin } from './core/redis-tools.js';
import { type ProfileOutcome, profileRun } from './profile.js';
import { machine, oursVersion, packageVersion, PEER_PACKAGES } from './report/environment.js';
import { renderBenchmarksMd } from './report/markdown.js';
import type { RunResult } from './report/results.js';
import { renderSvg } from './report/svg.js';
import { renderText } from './report/table.js';
import { buildTables } from './report/tables.js';
import { computeTargets } from './report/targets.js';
import { runHotKeys } from './workloads/hot-key.js';
import { runHttp } from './workloads/http.js';
import { runLingering } from './workloads/lingering.js';
import { runMemory } from './workloads/memory.js';
import { runScaling } from './workloads/scaling.js';
import { runSoak } from './workloads/soak.js';
import { runThroughput } from './workloads/throughput.js';
import { formatMarkdown } from '../test/support/format-markdown.js';

// dist-bench/bench/run.js -> repository root
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const RESULTS_DIR = join(ROOT, 'bench', 'results');
const CHART = 'bench/results/latest.svg';

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

async function main(): Promise<number> {
  const started = performance.now();
  const cli = parseCli(process.argv.slice(2), process.env);
  if (cli.report) return reportOnly(cli.report);
  const unhandled: string[] = [];
  process.on('unhandledRejection', (reason) => {
    // A peer's stray rejection must not take the whole run down; it is reported instead.
    const text = messageOf(reason);
    if (unhandled.length < 20) unhandled.push(text);
    log(`unhandled rejection (recorded, run continues): ${text}`);
  });
  process.on('exit', killAllChildren);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      log(`\n${signal}: stopping every child process and Redis server`);
      killAllChildren();
      // The fleet's own 'exit' hook SIGKILLs the redis-server processes.
      process.exit(130);
    });
  }
  // Every contender runs under the same promise hooks: otherwise they would turn on at the
  // first `using` of ours' secondary row, part-way through a partial run (--contenders).
  if (cli.hooks) new AsyncLocalStorage<number>().run(1, () => undefined);
  log(
    `AsyncLocalStorage promise hooks: ${cli.hooks ? 'on for every contender' : 'off (--no-hooks)'}`,
  );
  const { config, only } = cli;
  log(`nestjs-redlock bench (${config.quick ? 'quick' : 'full'}; workloads: ${only.join(', ')})`);
  let fleet: RedisFleet | undefined;
  let admin: RedisAdmin | undefined;
  try {
    const runTimes = cpuTimes();
    fleet = await startRedisFleet({ nodes: config.fleetSize });
    admin = new RedisAdmin(fleet.urls);
    const run: RunResult = {
      startedAt: new Date().toISOString(),
      durationMs: 0,
      quick: config.quick,
      only,
      machine: machine(),
      versions: {
        node: process.version,
        redis: await admin.serverVersion(),
        ours: oursVersion(ROOT),
        packages: Object.fromEntries(PEER_PACKAGES.map((n) => [n, packageVersion(ROOT, n)])),
      },
      config,
      uncontended: [],
      manyKeys: [],
      scaling: [],
      hotKey: [],
      http: undefined,
      memory: undefined,
      lingering: undefined,
      soak: undefined,
      audits: [],
      phases: [],
      targets: [],
      profiles: [],
      unhandled,
    };
    await runWorkloads(run, cli, { urls: fleet.urls, admin, log }, started);
    run.targets = computeTargets(run);
    if (
      cli.profile &&
      run.targets.some((t) => t.id.startsWith('uncontended') && t.status === 'MISSED')
    ) {
      log('uncontended target missed: CPU profiles of ours and the limit (node --cpu-prof)');
      for (const id of ['ours', 'limit'] as const) {
        const outcome = await profileRun({
          contender: id,
          workload: 'uncontended',
          urls: fleet.urls.slice(0, 1),
          seconds: 4,
        });
        run.profiles.push(trimProfile(outcome));
        log(`  profiled ${id}: ${outcome.summary} (${outcome.file})`);
      }
    }
    run.durationMs = performance.now() - started;
    run.machine.loadAvgAtEnd = os.loadavg();
    run.machine.stealPercent = stealPercent(runTimes);
    process.stdout.write(`${renderText(buildTables(run))}\n`);
    process.stdout.write(`\nRun took ${(run.durationMs / 1_000).toFixed(1)} s.\n`);
    mkdirSync(RESULTS_DIR, { recursive: true });
    const stamp = run.startedAt.replace(/[:.]/g, '-');
    const json = `${JSON.stringify(run, null, 2)}\n`;
    writeFileSync(join(RESULTS_DIR, `${stamp}${config.quick ? '-quick' : ''}.json`), json);
    writeFileSync(join(RESULTS_DIR, 'latest.json'), json);
    log(
      `raw results: bench/results/latest.json (and ${stamp}${config.quick ? '-quick' : ''}.json)`,
    );
    if (cli.writeDocs) await writeDocs(run);
    else
      log(
        'quick or partial run: BENCHMARKS.md and the chart left as they are (--write-docs to force)',
      );
    return 0;
  } catch (error) {
    log(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return 1;
  } finally {
    killAllChildren();
    admin?.close();
    await fleet?.stop();
  }
}

async function runWorkloads(
  run: RunResult,
  cli: CliOptions,
  base: { urls: readonly string[]; admin: RedisAdmin; log: (line: string) => void },
  started: number,
): Promise<void> {
  const { config, only } = cli;
  const ctx = { ...base, config };
  const allowed = cli.contenders;
  const throughputIds = contendersFor('throughput', allowed);
  const phase = async (name: string, work: () => Promise<void>): Promise<void> => {
    log(`[${((performance.now() - started) / 1_000).toFixed(0)} s] ${name}`);
    const start = os.loadavg()[0]!;
    const times = cpuTimes();
    await work();
    run.phases.push({ phase: name, start, end: os.loadavg()[0]!, steal: stealPercent(times) });
  };
  if (only.includes('uncontended')) {
    for (const nodes of config.uncontended.nodes) {
      await phase(`uncontended, ${nodes} node(s)`, async () => {
        run.uncontended.push(
          await runThroughput('uncontended', nodes, 1, config.uncontended, throughputIds, ctx),
        );
      });
    }
  }
  if (only.includes('many-keys')) {
    for (const nodes of config.manyKeys.nodes) {
      await phase(`${config.manyKeys.inFlight} in flight, ${nodes} node(s)`, async () => {
        run.manyKeys.push(
          await runThroughput(
            'many-keys',
            nodes,
            config.manyKeys.inFlight,
            config.manyKeys,
            throughputIds,
            ctx,
          ),
        );
      });
    }
  }
  if (only.includes('hot-key')) {
    const ids = contendersFor('hot-key', allowed);
    await phase('hot key', async () => {
      run.hotKey.push(...(await runHotKeys(config.hotKey.configs, ids, ctx)));
    });
  }
  if (only.includes('http')) {
    await phase('HTTP', async () => {
      run.http = await runHttp(ctx);
    });
  }
  if (only.includes('memory')) {
    await phase('memory per held lock', async () => {
      run.memory = await runMemory(contendersFor('memory', allowed), ctx);
    });
    await phase('left in Redis after the ttl', async () => {
      run.lingering = await runLingering(contendersFor('lingering', allowed), ctx);
    });
  }
  if (only.includes('soak')) {
    await phase(`soak, ${config.soak.cycles.toLocaleString('en-US')} cycles`, async () => {
      run.soak = await runSoak(ctx);
    });
  }
  if (only.includes('scaling')) {
    const ids = config.scaling.contenders.filter((id) => !allowed || allowed.includes(id));
    await phase('scaling', async () => {
      run.scaling.push(...(await runScaling(config, contendersFor('throughput', ids), ctx)));
    });
  }
}

/** Keeps the JSON small: the top entries of each list are enough to read a profile. */
function trimProfile(outcome: ProfileOutcome): ProfileOutcome {
  const { analysis } = outcome;
  return {
    ...outcome,
    analysis: {
      ...analysis,
      areas: analysis.areas.slice(0, 15),
      functions: analysis.functions.slice(0, 25),
      inclusive: analysis.inclusive.slice(0, 20),
    },
  };
}

async function writeDocs(run: RunResult): Promise<void> {
  writeFileSync(join(ROOT, CHART), renderSvg(run));
  const analysisPath = join(ROOT, 'bench', 'analysis.md');
  const analysis = existsSync(analysisPath) ? readFileSync(analysisPath, 'utf8') : undefined;
  const path = join(ROOT, 'BENCHMARKS.md');
  writeFileSync(
    path,
    await formatMarkdown(renderBenchmarksMd(run, CHART, analysis), path, (message) =>
      log(`${message}; BENCHMARKS.md written unformatted`),
    ),
  );
  log(`wrote ${CHART} and BENCHMARKS.md`);
}

/** `--report=<results.json>`: rewrites BENCHMARKS.md and the chart from a saved run. */
async function reportOnly(file: string): Promise<number> {
  const run = JSON.parse(readFileSync(resolve(file), 'utf8')) as RunResult;
  run.targets = computeTargets(run);
  process.stdout.write(`${renderText(buildTables(run))}\n`);
  await writeDocs(run);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`bench failed: ${messageOf(error)}`);
    process.exit(1);
  },
);
