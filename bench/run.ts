/**
 * `npm run bench`: every workload, every contender, one run. See BENCHMARKS.md for the method.
 * Progress goes to stderr; the result tables go to stdout.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RedisFleet, startRedisFleet } from '../test/support/redis-fleet.js';
import { messageOf } from './core/clock.js';
import { parseCli } from './core/config.js';
import { CONTENDERS } from './core/contenders.js';
import { killAllChildren } from './core/processes.js';
import { RedisAdmin } from './core/redis-tools.js';
import { type ProfileOutcome, profileRun } from './profile.js';
import { renderBenchmarksMd } from './report/markdown.js';
import type { Machine, RunResult, Versions } from './report/results.js';
import { renderSvg } from './report/svg.js';
import { buildTables, renderText } from './report/tables.js';
import { computeTargets } from './report/targets.js';
import { runContended } from './workloads/contended.js';
import { runHttp } from './workloads/http.js';
import { runSoak } from './workloads/soak.js';
import { runThroughput } from './workloads/throughput.js';

// dist-bench/bench/run.js -> repository root
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const RESULTS_DIR = join(ROOT, 'bench', 'results');
const CHART = 'bench/results/latest.svg';

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

function machine(): Machine {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpus: cpus.length,
    cpuMHz: cpus[0]?.speed ?? 0,
    totalMemGiB: os.totalmem() / 1024 ** 3,
    platform: os.platform(),
    release: os.release(),
    arch: os.arch(),
    loadAvgAtStart: os.loadavg(),
  };
}

function packageVersion(name: string): string {
  try {
    const pkg = JSON.parse(
      readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8'),
    ) as {
      version?: string;
    };
    return (pkg.version ?? 'unknown').replace(/^v/, '');
  } catch {
    return 'not installed';
  }
}

function oursVersion(): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'lib'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    return `${pkg.version} (git ${commit}${dirty ? ', lib/ modified' : ''})`;
  } catch {
    return pkg.version;
  }
}

async function main(): Promise<number> {
  const started = performance.now();
  const cli = parseCli(process.argv.slice(2), process.env);
  if (cli.report) return reportOnly(cli.report);
  const { config, only } = cli;
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

  log(`nestjs-redlock bench (${config.quick ? 'quick' : 'full'}; workloads: ${only.join(', ')})`);
  let fleet: RedisFleet | undefined;
  let admin: RedisAdmin | undefined;
  try {
    fleet = await startRedisFleet({ nodes: 5 });
    admin = new RedisAdmin(fleet.urls);
    const urls = fleet.urls;
    const run: RunResult = {
      startedAt: new Date().toISOString(),
      durationMs: 0,
      quick: config.quick,
      only,
      machine: machine(),
      versions: {
        node: process.version,
        redis: await admin.serverVersion(),
        ours: oursVersion(),
        packages: Object.fromEntries(
          [
            'ioredis',
            'redlock',
            'redis-semaphore',
            '@nestjs/core',
            '@nestjs/platform-express',
            'autocannon',
          ].map((name) => [name, packageVersion(name)]),
        ),
      } satisfies Versions,
      config,
      uncontended: [],
      manyKeys: [],
      contended: [],
      http: [],
      soak: undefined,
      targets: [],
      profiles: [],
      unhandled,
    };
    const contenders = CONTENDERS.map((info) => info.id).filter(
      (id) => !cli.contenders || cli.contenders.includes(id),
    );
    const ctx = { urls, admin, config, log, contenders };
    const phase = (name: string): void => {
      log(`[${((performance.now() - started) / 1_000).toFixed(0)} s] ${name}`);
    };

    if (only.includes('uncontended')) {
      for (const nodes of [1, 5]) {
        phase(`workload 1: uncontended, ${nodes} node(s)`);
        run.uncontended.push(...(await runThroughput('uncontended', nodes, ctx)));
      }
    }
    if (only.includes('many-keys')) {
      for (const nodes of [1, 5]) {
        phase(`workload 2: ${config.manyKeys.inFlight} in flight, ${nodes} node(s)`);
        run.manyKeys.push(...(await runThroughput('many-keys', nodes, ctx)));
      }
    }
    if (only.includes('contended')) {
      for (const nodes of [1, 5]) {
        for (const processes of [1, config.contended.processes]) {
          phase(`workload 3: contended, ${nodes} node(s), ${processes} process(es)`);
          run.contended.push(...(await runContended(nodes, processes, ctx)));
        }
      }
    }
    if (only.includes('http')) {
      phase('workload 4: HTTP');
      run.http.push(...(await runHttp(ctx)));
    }
    if (only.includes('soak')) {
      phase('workload 5: soak');
      const expected = run.manyKeys.find((r) => r.nodes === 1 && r.contender === 'ours')?.opsPerSec;
      run.soak = await runSoak({ ...ctx, expectedOpsPerSec: expected });
    }

    run.targets = computeTargets(run);
    if (run.targets.some((t) => t.area.startsWith('Uncontended') && t.status === 'MISS')) {
      phase('uncontended target missed: CPU profiles of ours and the limit (node --cpu-prof)');
      for (const id of ['ours', 'limit'] as const) {
        const outcome = await profileRun({
          contender: id,
          workload: 'uncontended',
          urls: urls.slice(0, 1),
          seconds: config.quick ? 2 : 4,
        });
        run.profiles.push(trimProfile(outcome));
        log(`  profiled ${id}: ${outcome.summary} (${outcome.file})`);
      }
    }
    run.durationMs = performance.now() - started;
    run.machine.loadAvgAtEnd = os.loadavg();
    process.stdout.write(`${renderText(buildTables(run))}\n`);
    process.stdout.write(`\nRun took ${(run.durationMs / 1_000).toFixed(1)} s.\n`);

    mkdirSync(RESULTS_DIR, { recursive: true });
    const stamp = run.startedAt.replace(/[:.]/g, '-');
    const jsonPath = join(RESULTS_DIR, `${stamp}${config.quick ? '-quick' : ''}.json`);
    writeFileSync(jsonPath, `${JSON.stringify(run, null, 2)}\n`);
    log(`raw results: ${jsonPath}`);
    if (cli.writeDocs) {
      writeFileSync(join(ROOT, CHART), renderSvg(run));
      const analysisPath = join(ROOT, 'bench', 'analysis.md');
      const analysis = existsSync(analysisPath) ? readFileSync(analysisPath, 'utf8') : undefined;
      const markdown = await formatMarkdown(
        renderBenchmarksMd(run, CHART, analysis),
        join(ROOT, 'BENCHMARKS.md'),
      );
      writeFileSync(join(ROOT, 'BENCHMARKS.md'), markdown);
      log(`wrote ${CHART} and BENCHMARKS.md`);
    } else {
      log(
        'quick or partial run: BENCHMARKS.md and the chart were left as they are (--write-docs to force)',
      );
    }
    return run.targets.some((t) => t.status === 'MISS') ? 0 : 0;
  } catch (error) {
    log(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return 1;
  } finally {
    killAllChildren();
    admin?.close();
    await fleet?.stop();
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
  writeFileSync(path, await formatMarkdown(renderBenchmarksMd(run, CHART, analysis), path));
  log(`wrote ${CHART} and BENCHMARKS.md`);
}

/** `--report=<results.json>`: rewrites BENCHMARKS.md and the chart from a saved run. */
async function reportOnly(file: string): Promise<number> {
  const run = JSON.parse(readFileSync(resolve(file), 'utf8')) as RunResult;
  run.profiles ??= [];
  run.targets = computeTargets(run);
  process.stdout.write(`${renderText(buildTables(run))}\n`);
  await writeDocs(run);
  return 0;
}

/** Formats with the project's prettier settings, so `prettier --check` stays clean. */
async function formatMarkdown(text: string, filepath: string): Promise<string> {
  try {
    const prettier = await import('prettier');
    const options = (await prettier.resolveConfig(filepath)) ?? {};
    return await prettier.format(text, { ...options, filepath, parser: 'markdown' });
  } catch (error) {
    log(`prettier unavailable (${messageOf(error)}); BENCHMARKS.md written unformatted`);
    return text;
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`bench failed: ${messageOf(error)}`);
    process.exit(1);
  },
);
