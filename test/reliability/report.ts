/**
 * Results of the reliability suites and RELIABILITY.md.
 *
 * Every suite writes `test/reliability/results/<suite>.json` (`<suite>@<scale>.json` when
 * `RELIABILITY_SCALE` > 1) after it ran; RELIABILITY.md shows, per suite, the run at the
 * largest scale. With
 * `RELIABILITY_REPORT=1` (set by `npm run soak`) it also regenerates RELIABILITY.md from every
 * results file present, so the last suite to finish leaves the complete report. The mutation
 * check (`scripts/mutation-check.mjs`) writes `results/mutations.json` and its own section of
 * RELIABILITY.md, between the `mutation-check` markers; the table here renders the same file.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatMarkdown } from '../support/format-markdown.js';

const here = dirname(fileURLToPath(import.meta.url));
export const RESULTS_DIR = join(here, 'results');
export const REPORT_FILE = join(here, '..', '..', 'RELIABILITY.md');

export interface ReportedViolation {
  kind: string;
  detail: string;
  seed?: number;
  path?: string;
}

/** One scenario of a scenario suite (the cross-process checker). */
export interface ScenarioRow {
  name: string;
  checks: string;
  seconds: number;
  sections: number;
  reads: number;
  faults: number;
  violations: number;
  staleAccepted: number;
  staleRefused: number;
  maxSettleMs: number;
  /** Hand-over or recovery time, where the scenario measures one. */
  handoverMs?: number;
  errors: Record<string, number>;
}

export interface SuiteResult {
  suite: string;
  title: string;
  file: string;
  /** `model`: randomized plans; `scenarios`: scripted fault scenarios; `examples`: fixed tests. */
  kind: 'model' | 'scenarios' | 'examples';
  scale: number;
  at: string;
  durationMs: number;
  seeds: number[];
  failed: boolean;
  /** Key figures, in display order. */
  summary: Record<string, number | string>;
  faults: Record<string, number>;
  violations: ReportedViolation[];
  rows?: ScenarioRow[];
  notes?: string[];
}

export interface MutationRow {
  id: string;
  title: string;
  files: string[];
  status: 'caught' | 'missed' | 'pattern not found' | 'baseline failing' | 'error';
  caughtBy: string[];
  seconds: number;
  detail?: string;
}

export interface MutationResults {
  at: string;
  seed?: string;
  /** RELIABILITY_WITHOUT given to the model suites, if any. */
  without?: string;
  baseline: {
    passed: boolean;
    seconds: number;
    files: string[];
    /** Tests failing without any mutation (not counted for any mutation). */
    failing?: string[];
    /** Kinds of violation each model suite reported without any mutation. */
    violations?: Record<string, string[]>;
  };
  rows: MutationRow[];
}

export async function saveResult(result: SuiteResult): Promise<void> {
  await mkdir(RESULTS_DIR, { recursive: true });
  // One file per suite and scale: a routine scale-1 run never overwrites a soak's figures.
  const name = result.scale > 1 ? `${result.suite}@${result.scale}` : result.suite;
  await writeFile(join(RESULTS_DIR, `${name}.json`), JSON.stringify(result, null, 2));
  if (process.env.RELIABILITY_REPORT === '1') await writeReport();
}

export async function loadResults(): Promise<{
  suites: SuiteResult[];
  mutations: MutationResults | undefined;
}> {
  if (!existsSync(RESULTS_DIR)) return { suites: [], mutations: undefined };
  const suites: SuiteResult[] = [];
  let mutations: MutationResults | undefined;
  for (const name of (await readdir(RESULTS_DIR)).sort()) {
    if (!name.endsWith('.json')) continue;
    const text = await readFile(join(RESULTS_DIR, name), 'utf8');
    try {
      const parsed = JSON.parse(text) as unknown;
      if (name === 'mutations.json') mutations = parsed as MutationResults;
      else if (isSuiteResult(parsed)) suites.push(parsed);
    } catch {
      // a half-written file of a suite still running: skipped this time
    }
  }
  // Per suite, the run at the largest scale (the soak), the latest of those.
  const best = new Map<string, SuiteResult>();
  for (const suite of suites) {
    const known = best.get(suite.suite);
    if (
      !known ||
      suite.scale > known.scale ||
      (suite.scale === known.scale && suite.at > known.at)
    ) {
      best.set(suite.suite, suite);
    }
  }
  const order = ['fault-proxy', 'semantics', 'model-memory', 'model-redis', 'cross-process'];
  const chosen = [...best.values()].sort((a, b) => rank(order, a.suite) - rank(order, b.suite));
  return { suites: chosen, mutations };
}

export async function writeReport(): Promise<void> {
  const { suites, mutations } = await loadResults();
  await writeFile(REPORT_FILE, await formatMarkdown(renderReport(suites, mutations), REPORT_FILE));
}

function isSuiteResult(value: unknown): value is SuiteResult {
  return typeof value === 'object' && value !== null && 'suite' in value && 'summary' in value;
}

function rank(order: readonly string[], suite: string): number {
  const index = order.indexOf(suite);
  return index < 0 ? order.length : index;
}

function table(header: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const line = (cells: readonly unknown[]): string =>
    `| ${cells.map((c) => String(c).replace(/\|/g, '\\|').replace(/\n/g, ' ')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function counts(record: Record<string, number>): string {
  const entries = Object.entries(record).filter(([, n]) => n > 0);
  return entries.length === 0 ? '—' : entries.map(([k, n]) => `${k} ${n}`).join(', ');
}

export function renderMutations(mutations: MutationResults | undefined): string {
  if (!mutations) {
    return 'Not run yet: `node scripts/mutation-check.mjs` fills this section.';
  }
  const rows = mutations.rows.map((row) => [
    row.id,
    row.title,
    row.status,
    row.caughtBy.length > 0 ? row.caughtBy.join(', ') : '—',
    row.seconds,
  ]);
  const caught = mutations.rows.filter((row) => row.status === 'caught').length;
  const failing = mutations.baseline.failing ?? [];
  return [
    `Run ${mutations.at.slice(0, 16).replace('T', ' ')} UTC, seed ${mutations.seed ?? '—'}` +
      `${mutations.without ? `, model suites with \`RELIABILITY_WITHOUT=${mutations.without}\`` : ''}. ` +
      `Baseline (no mutation): ${mutations.baseline.passed ? 'passed' : 'failed'} in ` +
      `${mutations.baseline.seconds} s (${mutations.baseline.files.join(', ')}). ` +
      `Caught ${caught} of ${mutations.rows.length}.`,
    ...(failing.length > 0
      ? [
          '',
          'Failing without any mutation (known engine bugs; not counted):',
          ...failing.map((t) => `- ${t}`),
        ]
      : []),
    '',
    table(['mutation', 'bug injected', 'result', 'caught by (new violation kinds)', 's'], rows),
  ].join('\n');
}

export function renderReport(
  suites: readonly SuiteResult[],
  mutations: MutationResults | undefined,
): string {
  const violations = suites.flatMap((s) => s.violations.map((v) => ({ suite: s.suite, ...v })));
  const overview = table(
    [
      'suite',
      'kind',
      'scale',
      'seconds',
      'runs / scenarios',
      'sections',
      'faults injected',
      'violations',
      'seeds',
    ],
    suites.map((s) => [
      `${s.title} (\`${s.file}\`)`,
      s.kind,
      s.scale,
      Math.round(s.durationMs / 100) / 10,
      s.summary.plans ?? s.summary.scenarios ?? s.summary.tests ?? '—',
      s.summary.sections ?? '—',
      Object.values(s.faults).reduce((a, b) => a + b, 0),
      s.violations.length,
      s.seeds.length > 0 ? s.seeds.join(', ') : '—',
    ]),
  );
  const details = suites
    .map((s) => {
      const figures = table(
        ['figure', 'value'],
        Object.entries(s.summary).map(([k, v]) => [k, v]),
      );
      const faults = `Faults injected: ${counts(s.faults)}.`;
      const rows = s.rows
        ? '\n\n' +
          table(
            [
              'scenario',
              'checks',
              's',
              'sections',
              'faults',
              'violations',
              'stale writes accepted (refused)',
              'max settle ms',
              'hand-over ms',
              'typed errors',
            ],
            s.rows.map((r) => [
              r.name,
              r.checks,
              r.seconds,
              r.reads > 0 ? `${r.sections} (+${r.reads} reads)` : r.sections,
              r.faults,
              r.violations,
              `${r.staleAccepted} (${r.staleRefused})`,
              r.maxSettleMs,
              r.handoverMs ?? '—',
              counts(r.errors),
            ]),
          )
        : '';
      const notes = s.notes?.length ? `\n\n${s.notes.map((n) => `- ${n}`).join('\n')}` : '';
      return `### ${s.title}\n\n${figures}\n\n${faults}${rows}${notes}`;
    })
    .join('\n\n');
  const scaleOf = new Map(suites.map((suite) => [suite.suite, suite.scale]));
  const groups = new Map<string, typeof violations>();
  for (const v of violations) {
    const key = `${v.suite}\u0000${v.kind}`;
    groups.set(key, [...(groups.get(key) ?? []), v]);
  }
  const violationText =
    violations.length === 0
      ? 'None.'
      : table(
          ['suite', 'kind', 'count', 'first example', 'replay (seed / path)'],
          [...groups.values()].map((list) => [
            list[0]!.suite,
            list[0]!.kind,
            list.length,
            list[0]!.detail.slice(0, 400),
            (scaleOf.get(list[0]!.suite)! > 1 ? `scale ${scaleOf.get(list[0]!.suite)}: ` : '') +
              [
                ...new Set(
                  list.map((v) =>
                    v.seed === undefined ? '—' : `${v.seed}${v.path ? ` / ${v.path}` : ''}`,
                  ),
                ),
              ]
                .slice(0, 4)
                .join(', '),
          ]),
        );
  const scale = Math.max(1, ...suites.map((s) => s.scale));
  return `# Reliability

Regenerated from the reliability suites' results (\`test/reliability/results/*.json\`) by
${scale > 1 ? `\`npm run soak\` (\`RELIABILITY_SCALE=${scale}\`)` : '`RELIABILITY_REPORT=1 npm run test:jest -- test/reliability`'};
\`npm test\` runs the same suites at scale 1 (short budget). Last suite:
${
  suites
    .map((s) => s.at)
    .sort()
    .at(-1)
    ?.slice(0, 16)
    .replace('T', ' ') ?? '—'
} UTC.

## What is checked

Two guarantees come first: two bodies that both believe they hold a lock never run at once,
and nobody waits for a lock nobody holds. The suites check them with an **independent
witness** (\`test/support/witness.ts\`) that knows nothing of the library: every critical
section tells it when it enters and leaves (in-process, or over IPC with timestamps from
worker processes), and it keeps, per resource, who is inside.

- **Exclusion**: a writer never shares a resource with anyone, a reader never with a writer,
  while both hold their locks (each by its own engine's view). Work a scope started may
  overlap that scope (it runs under its lock); siblings and strangers may not.
- **Fencing**: with \`{ fencing: true }\`, a writer's token is above every earlier writer's on
  that resource, in the order sections entered; readers' are at least that. Relaxed after a
  node restarted without its data (its counter is gone: the documented assumption).
- **Loss told in time**: a section whose lock is lost hears it from \`signal\` (abort with
  \`LockLostError\`) no later than 10 ms (plus the run's event-loop lag) after the lock's
  validity ended, also while a renewal still waits for nodes that stopped answering. In the
  cross-process suite a holder paused past its ttl finds its signal aborted at its first look,
  and its late fenced write is refused once a newer holder has written.
- **Bounded waits**: every acquisition settles within its \`wait\` plus a few node timeouts
  (nested scopes: twice the wait), a release within two node timeouts, an aborted wait within
  three, \`close()\` promptly (also with a node stopped).
- **Nobody waits for nobody**: outside fault windows, a writer is never kept waiting while no
  one holds its resources for longer than its retry delay plus a few node timeouts.
- **Scopes**: siblings (\`Promise.all\` inside \`using\`) serialize; a task started inside a
  scope that ran under its lock has ended before the scope that owns the lock resolves; a
  write scope inside a read scope is refused; errors are the library's typed errors.
- **No leftovers**: after every scope ended and faults healed, no lock key without expiry; once
  the ttls passed, no key and no registered lease; a stale owner's late release never frees a
  resource another holder is inside; no unhandled rejection.

Faults: per-connection latency beyond the node timeout, blackholes (partitions, one engine cut
off from a majority), connections cut and cut mid-command (the node executes, the reply is
lost; replaying clients re-send it), refused connections, nodes paused (SIGSTOP) and killed and
restarted without data after more than the max ttl, skewed client clocks (wall clock off by up
to 5 min, monotonic clock 0.4 % fast or slow). On real Redis through \`test/support/fault-proxy.ts\`
and the fleet's processes; in memory through simulated links with the same semantics.

## Running

| command | what |
| --- | --- |
| \`npm test\` (\`npm run test:jest -- test/reliability\`) | short budget: model-memory 18 s, model-redis 26 s of new plans, cross-process 6 scenarios of 2–2.5 s, semantics and proxy tests; about 35–40 s wall on 2 cores |
| \`npm run soak\` | \`RELIABILITY_SCALE=5 RELIABILITY_REPORT=1\`: five times the budgets and durations, larger plans, regenerates this file |
| \`node scripts/mutation-check.mjs [--without escape]\` | the mutation check below (a few minutes) |

Knobs (environment): \`RELIABILITY_SEED\` / \`RELIABILITY_PATH\` replay a plan (the seed also
fixes the cross-process workers' operation sequences), \`RELIABILITY_REPEAT=<n>\` runs it n times,
\`RELIABILITY_SHRINK=1\` shrinks a failure, \`RELIABILITY_KEEP_GOING=1\` collects every violation
instead of stopping at the first plan, \`RELIABILITY_WITHOUT=escape,siblings,partition,...\` leaves
step or fault kinds out (to tell failure classes apart), \`RELIABILITY_TRACE=1\` prints each
plan's timeline, \`RELIABILITY_MONITOR=<dir>\` (Redis world) writes every command each node ran.

## Overview

${overview}

## Violations

${violationText}

A failing model run prints its seed and path; \`RELIABILITY_SEED=<seed> RELIABILITY_PATH=<path>\`
replays that plan (with the same \`RELIABILITY_SCALE\`; \`RELIABILITY_REPEAT=<n>\` n times,
\`RELIABILITY_SHRINK=1\` to shrink it). A plan fixes the schedule, not the interleavings of a
real network: a timing-dependent violation may need a few repetitions.

What each kind means:

| kind | meaning |
| --- | --- |
| overlap | two sections that both held their locks were inside one resource together (writer with anyone, reader with a writer); the labels give engine, scope path (\`#root/child/...\`) and operation |
| self-deadlock | a scope nested in a chain that holds its resources gave up as busy although only its own chain held them (no sibling took its turn, no stranger held them) |
| escaped-task-outlived-scope | a task started inside a scope ran under that scope's lock after the scope's \`using\` had resolved |
| fencing / fenced-write-refused | a writer's token was not above an earlier writer's; a live holder's write was refused by the fenced store |
| waited-for-nobody | a writer waited longer than its retry delay plus a few node timeouts while nobody held its resources |
| slow-settle / hang | a call, release, exit or close took longer than its bound / never settled |
| key-left-behind / key-without-bound / lease-leak | a lock key (or a registered lease) outlived every scope by more than the ttl, or had no expiry |
| stale-release | a release after expiry freed a resource another owner still held |
| unavailable-although-busy / unexpected-error | \`RedlockUnavailableError\` although a quorum of nodes answered that another owner holds the resource; an error that is not one of the library's typed errors |
| semantics | a test of semantics.spec.ts failed (its name is given) |

## Found by these suites

While the engine was being rewritten, the suites found these; each has a deterministic test in
\`semantics.spec.ts\` (named here) and was fixed in the engine (commits f7192aa, b583b32):

| found by | what went wrong | regression test |
| --- | --- | --- |
| model-memory (overlap) | a task escaping a nested scope that reused its parent's lock kept running after that scope ended, beside the next sibling: the scope gave up its turn without waiting for work joined to it | the escaped task of a sibling does not run beside the next sibling |
| model-memory (self-deadlock) | a \`using\` nested inside an escaped task, once the owner's body had returned, could not join the lock (it was "closing"), acquired afresh and waited for the owner, which waited for the task: busy after the whole wait | a scope nested in an escaped task reuses the lock after the outer body returned |
| model-redis (key-left-behind, confirmed with \`RELIABILITY_MONITOR\`) | a late WRONGTYPE reply to the plain \`SET NX PX GET\` made the adapter send the ACQUIRE script after the engine's undo: the abandoned attempt took the key for a whole ttl | an abandoned attempt is not completed after its rollback (a late WRONGTYPE reply) |
| model-memory (key-left-behind, replaying links) | releases went through the circuit breaker: a node with an open circuit that still had the acquisition queued in its client got no release, and the key came back for a ttl | a release reaches a node whose circuit opened while it still had the lock queued |
| model-memory (overlap, degraded plans) | in degraded mode a nested scope taking more resources skipped the in-process lock: two holders in one process on the way out of an outage | no distributed lock for a nested scope while the process holds a local one |

## Figures per suite

${details}

## Mutation check

\`node scripts/mutation-check.mjs\` copies \`lib/\` and \`test/\` to a temporary directory
(\`node_modules\` linked, the repository itself untouched), injects one known bug at a time
by search and replace (the list at the top of the script; a pattern that no longer matches
is reported as \`pattern not found\`), runs the reliability test files that should catch it,
and records which ones failed. A mutation is **caught** when at least one of them fails.

<!-- mutation-check:begin -->
${renderMutations(mutations)}
<!-- mutation-check:end -->
`;
}
