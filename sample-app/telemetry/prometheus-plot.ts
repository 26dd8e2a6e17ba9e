/**
 * The README's Prometheus picture, made for real: three local redis-server lock nodes, an app
 * context with `RedlockModule.forRoot({ telemetry: { meterProvider } })` whose meter provider
 * reads through `@opentelemetry/exporter-prometheus`, a lock workload in phases (light load,
 * contention on two hot resources, leases left to expire, one node down, then no quorum), the
 * `/metrics` endpoint scraped every second over HTTP, and an SVG plot of what was scraped.
 *
 * Run: `npm run build && node dist/sample-app/telemetry/prometheus-plot.js [out.svg]`
 * (default docs/prometheus-plot.svg; PLOT_SECONDS shortens or lengthens the run).
 */
import 'reflect-metadata';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import {
  LockNotAcquiredError,
  RedlockModule,
  RedlockService,
  RedlockUnavailableError,
} from 'nestjs-redlock';
import { findFreePort } from '../../test/support/free-port.js';
import { type RedisFleet, startRedisFleet } from '../../test/support/redis-fleet.js';
import {
  buckets,
  parsePrometheusText,
  type PromSample,
  quantileBetween,
  total,
} from './prometheus-text.js';
import { type Band, renderChart, type Series } from './svg-chart.js';

const SECONDS = Number(process.env.PLOT_SECONDS ?? 48);
const OUT = resolve(process.argv[2] ?? 'docs/prometheus-plot.svg');
// Phases, as fractions of the run.
const at = (fraction: number): number => Math.round(SECONDS * fraction);
const CONTENTION = [at(0.25), at(0.5)] as const;
const NODE_DOWN = [at(0.62), at(0.8)] as const;
const NO_QUORUM = [at(0.69), at(0.74)] as const;
const LEASES = [at(0.1), at(0.4), at(0.9)];

interface Scrape {
  readonly t: number;
  readonly samples: PromSample[];
}

async function main(): Promise<void> {
  const fleet: RedisFleet = await startRedisFleet({ nodes: 3 });
  const port = await findFreePort();
  // The wiring the README shows: an exporter is a metric reader serving /metrics itself.
  const exporter = new PrometheusExporter({ host: '127.0.0.1', port });
  const meterProvider = new MeterProvider({ readers: [exporter] });

  @Module({
    imports: [
      RedlockModule.forRoot({
        nodes: fleet.urls,
        logger: false,
        lock: { nodeTimeout: 50 },
        circuitBreaker: { failureThreshold: 3, coolDown: 1_000 },
        telemetry: { meterProvider, tracerProvider: false },
      }),
    ],
  })
  class PlotModule {}

  const app = await NestFactory.createApplicationContext(PlotModule, { logger: false });
  const redlock = app.get(RedlockService);
  const start = performance.now();
  const elapsed = (): number => (performance.now() - start) / 1_000;
  const within = ([from, to]: readonly [number, number]): boolean =>
    elapsed() >= from && elapsed() < to;
  const random = (n: number): number => Math.floor(Math.random() * n);

  const worker = async (id: number): Promise<void> => {
    while (elapsed() < SECONDS) {
      const contended = within(CONTENTION);
      // Outside contention only two workers run, on a wide key space.
      if (!contended && id >= 2) {
        await sleep(100);
        continue;
      }
      const resource = contended ? `hot:${random(2)}` : `item:${random(500)}`;
      const hold = contended ? 15 + random(35) : 5 + random(15);
      try {
        await redlock.using(resource, () => sleep(hold), {
          ttl: 2_000,
          wait: contended ? 120 : 250,
        });
      } catch (error) {
        if (!(error instanceof LockNotAcquiredError || error instanceof RedlockUnavailableError)) {
          throw error;
        }
      }
      await sleep(contended ? 5 : 40 + random(40));
    }
  };

  const outages = async (): Promise<void> => {
    const [node1, node2] = [fleet.nodes[0]!, fleet.nodes[1]!];
    await sleep(NODE_DOWN[0] * 1_000 - elapsed() * 1_000);
    await node1.pause();
    await sleep(NO_QUORUM[0] * 1_000 - elapsed() * 1_000);
    await node2.pause();
    await sleep(NO_QUORUM[1] * 1_000 - elapsed() * 1_000);
    await node2.resume();
    await sleep(NODE_DOWN[1] * 1_000 - elapsed() * 1_000);
    await node1.resume();
  };

  const leases = async (): Promise<void> => {
    for (const when of LEASES) {
      await sleep(Math.max(0, when * 1_000 - elapsed() * 1_000));
      // Taken with a short ttl and never extended nor released: lost when it runs out.
      await redlock.acquire(`lease:${when}`, { ttl: 300 }).catch(() => undefined);
    }
  };

  const scrapes: Scrape[] = [];
  const scraper = async (): Promise<void> => {
    for (let tick = 0; tick <= SECONDS; tick += 1) {
      await sleep(Math.max(0, tick * 1_000 - elapsed() * 1_000));
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      scrapes.push({ t: elapsed(), samples: parsePrometheusText(await response.text()) });
    }
  };

  process.stdout.write(`Scraping http://127.0.0.1:${port}/metrics for ${SECONDS} s...\n`);
  try {
    await Promise.all([
      ...[0, 1, 2, 3, 4, 5, 6, 7].map((id) => worker(id)),
      outages(),
      leases(),
      scraper(),
    ]);
  } finally {
    await Promise.all(fleet.nodes.map((node) => node.resume()));
    await app.close();
    await meterProvider.shutdown();
    await fleet.stop();
  }

  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, plot(scrapes, fleet.urls.length));
  process.stdout.write(`Wrote ${OUT} from ${scrapes.length} scrapes.\n`);
}

function plot(scrapes: readonly Scrape[], nodes: number): string {
  const pairs = scrapes.slice(1).map((scrape, i) => [scrapes[i]!, scrape] as const);
  const rate = (outcome: string): Series['points'] =>
    pairs.map(([before, after]) => [
      after.t,
      (total(after.samples, 'redlock_lock_acquisitions_total', { redlock_outcome: outcome }) -
        total(before.samples, 'redlock_lock_acquisitions_total', { redlock_outcome: outcome })) /
        (after.t - before.t),
    ]);
  const waitQuantile = (q: number): Series['points'] =>
    pairs.map(([before, after]) => {
      const value = quantileBetween(
        buckets(before.samples, 'redlock_lock_wait_duration'),
        buckets(after.samples, 'redlock_lock_wait_duration'),
        q,
      );
      return [after.t, value === undefined ? undefined : value * 1_000];
    });
  const gauge = (name: string, labels: Record<string, string> = {}): Series['points'] =>
    scrapes.map((scrape) => [scrape.t, total(scrape.samples, name, labels)]);
  const nodeNames = [
    ...new Set(
      scrapes.flatMap((scrape) =>
        scrape.samples
          .filter((sample) => sample.name === 'redlock_node_circuit_state')
          .map((sample) => sample.labels.redlock_node!),
      ),
    ),
  ].slice(0, nodes);
  const colors = ['#d62728', '#ff7f0e', '#2ca02c'];
  const bands: Band[] = [
    {
      from: CONTENTION[0],
      to: CONTENTION[1],
      label: 'contention: 8 workers, 2 hot keys',
      color: '#ff7f0e',
    },
    { from: NODE_DOWN[0], to: NODE_DOWN[1], label: 'node 1 paused', color: '#d62728' },
    { from: NO_QUORUM[0], to: NO_QUORUM[1], label: 'no quorum', color: '#7f0000' },
  ];
  return renderChart(
    'nestjs-redlock metrics, scraped from @opentelemetry/exporter-prometheus',
    `3 redis-server lock nodes, one scrape per second for ${SECONDS} s (rates and quantiles over each scrape interval)`,
    SECONDS,
    [
      {
        title: 'Acquisitions per second by outcome — rate(redlock_lock_acquisitions_total)',
        unit: 'per second',
        series: [
          { label: 'acquired', color: '#1f77b4', points: rate('acquired') },
          { label: 'busy', color: '#ff7f0e', points: rate('busy') },
          { label: 'unavailable', color: '#d62728', points: rate('unavailable') },
        ],
      },
      {
        title: 'Wait for the lock — histogram_quantile over redlock_lock_wait_duration_bucket',
        unit: 'ms',
        series: [
          { label: 'p50', color: '#2ca02c', points: waitQuantile(0.5) },
          { label: 'p95', color: '#9467bd', points: waitQuantile(0.95) },
        ],
      },
      {
        title: 'Locks held now (redlock_lock_held) and lost so far (redlock_lock_lost_total)',
        unit: 'locks',
        integer: true,
        series: [
          { label: 'held', color: '#1f77b4', points: gauge('redlock_lock_held') },
          {
            label: 'lost (total)',
            color: '#d62728',
            points: gauge('redlock_lock_lost_total'),
            step: true,
          },
        ],
      },
      {
        title: 'Node circuit state — redlock_node_circuit_state',
        unit: '',
        yMax: 2,
        yLabels: { 0: 'closed', 1: 'half-open', 2: 'open' },
        series: nodeNames.map((node, i) => ({
          label: `node ${i + 1}`,
          color: colors[i % colors.length]!,
          step: true,
          points: gauge('redlock_node_circuit_state', { redlock_node: node }).map(
            ([t, value]) => [t, value === undefined ? undefined : value + (i - 1) * 0.04] as const,
          ),
        })),
      },
    ],
    bands,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
