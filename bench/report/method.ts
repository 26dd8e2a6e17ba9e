/** The "Method", "Machine" and "Versions" sections of BENCHMARKS.md, from the run's own config. */
import { CONTENDERS } from '../core/contenders.js';
import type { RunResult } from './results.js';

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

export function methodSection(run: RunResult): string[] {
  const c = run.config;
  const m = run.machine;
  const v = run.versions;
  const h = c.hotKey;
  return [
    '## Method',
    '',
    '`npm run bench` compiles `bench/` and `lib/` with the project’s TypeScript (`bench/tsconfig.build.json`, output in `dist-bench/`; with `--noCheck`, whose output is byte-identical, since `npm run typecheck` checks `bench/` too), starts its own throwaway `redis-server` processes on free loopback ports (`test/support/redis-fleet.ts`; never 127.0.0.1:6379), runs every workload with every contender, prints the tables, saves the raw numbers to `bench/results/latest.json` (and a time-stamped copy), and rewrites this file and the chart. `npm run bench -- --quick` runs the same workloads with short turns and writes only the JSON; `--only=uncontended,hot-key` and `--contenders=ours,limit` run a subset; `--write-docs` forces this file to be rewritten; `--report=<results.json>` re-renders it from a saved run. `npm run bench:profile` profiles one contender on one workload with `node --cpu-prof`. `npm run bench:ab -- --base=<commit>` compares the engine of another commit with this checkout’s and the loop, in one process, turn by turn (for changes to the lock path, smaller than the spread between two full runs).',
    '',
    '**Honest by construction.**',
    '',
    '- _Ours as users call it_: the headline row is `RedlockService` taken from a Nest application context built from `RedlockModule.forRoot({ nodes })`; the bare engine and `using` are secondary rows (²), never in a headline ratio, as are the limit on auto-pipelined clients and the limit sending our commands; the headline limit uses plain clients, like the peers.',
    '- _Peers at their best_, each through its public API (below). “The best peer” is, per target, the peer row with the best median.',
    `- _Interleaved rounds_: each round gives every contender one turn, in an order drawn at random for every round, so drift in the shared machine’s speed spreads over all of them and no contender always runs right after the same other one (a rotation kept every contender’s predecessor, and with it the garbage and cold caches it left). Ratios are taken **per round** (ours in round i ÷ the other in round i) and reported as the **median of the per-round ratios with their min–max** (and IQR from 5 rounds). Latency percentiles (p50, p99, hot-key waits) are taken over every round’s calls together, per contender, and a p99 ratio is the ratio of those, with the per-round ratios’ min–max beside it: one turn’s p99 rests on a few dozen calls, too few for a ratio of two of them to say more than which contender a hiccup of the machine hit. The 1-minute load average is recorded per round and per phase (tables above).`,
    '- _Client CPU_: `process.cpuUsage()` of the bench process around each turn (all in-process contenders), per operation.',
    '- _The same async context for everyone_: the bench turns `AsyncLocalStorage`’s promise hooks on before the first turn, as any application using `@WithLock`, nestjs-cls or OpenTelemetry’s context manager has them, so every in-process contender runs under them and a partial run (`--contenders=`) measures what a full one does. With the hooks on, each promise and each `await` costs a hook call: a path with more promises per lock pays more. `--no-hooks` leaves them off (until something turns them on: ours’ `using` row does).',
    '- _Redis time counted once_: see below. Redis main-thread CPU (`used_cpu_user_main_thread + used_cpu_sys_main_thread` from `INFO cpu`) is shown beside it: it includes what commandstats leaves out (reading, parsing, writing replies), each microsecond once by construction.',
    '- _Nothing flushed uncounted_: nodes are never flushed between rounds. Before every cleanup (between workloads) every key on the nodes is counted by owner (`SCAN`, `MEMORY USAGE`, `PTTL`; every resource name carries its contender’s id) and the audit is part of the results. A dedicated probe counts what a released lock leaves after its ttl.',
    '',
    '**Redis time, counted once.** `INFO commandstats` books a command run by a script twice: in the script’s own entry (`cmdstat_evalsha` times the whole script, inner calls included) and again under the inner command’s own name (`cmdstat_set` also counts the SETs that scripts ran). Summing every entry therefore charges script-based clients for their inner commands twice. The bench first learns which command types each contender sends at top level: a short calibration run per contender (outside the measured turns) with a `MONITOR` connection, which tags commands run inside a script with the source `lua`. In every measured turn it takes the commandstats delta of the nodes (one `INFO cpu commandstats` before and after the turn) and adds: every script entry (`eval`, `evalsha`, `fcall` and their `_ro` forms) in full; every type seen only at top level in full; a type seen both ways apportioned by its top-level share of calls in the calibration (marked ≈); a type the calibration never saw in full (it can only over-charge). It never adds a type seen only inside scripts, nor the bench’s own `INFO`. So a script’s inner `SET` is counted once, inside the script, while a plain top-level `SET NX PX` is counted as itself.',
    '',
    '**Contenders** (all devDependencies; each gets its own connections, one ioredis client per node unless it makes its own):',
    '',
    ...CONTENDERS.map((info) => `- **${info.label(1)}**: ${info.setup}`),
    '',
    '**Workloads**',
    '',
    `- _Uncontended_: acquire + release of a new key, one call at a time, ttl ${c.uncontended.ttl} ms, on ${c.uncontended.nodes.join(' and ')} node(s); ${plural(c.uncontended.rounds, 'round')} of one ${c.uncontended.turnMs} ms turn per contender after a ${c.uncontended.warmupMs} ms warm-up. p50/p99: one acquire + release, over all rounds’ calls.`,
    `- _Many keys_: the same with ${c.manyKeys.inFlight} calls in flight on distinct keys; ${plural(c.manyKeys.rounds, 'round')} of ${c.manyKeys.turnMs} ms turns.`,
    `- _Hot key_: ${h.workers} workers on one key (acquire, hold ~${h.holdMs} ms, release) in ${h.configs.map((x) => `${x.nodes} node(s)/${x.processes} process(es)`).join(', ')}; workers in child processes (\`child_process.fork\`) are started once for all configurations with that many processes, build every contender up front, and then run whichever contender’s turn comes. ${plural(h.rounds, 'round')} of one ${h.windowMs / 1_000} s window per contender, a fresh key per window; ttl ${h.ttl} ms and a ${h.waitMs / 1_000} s retry budget for everyone. After a window, calls in flight get ${h.drainMs / 1_000} s and are then aborted (counted as cut, not give-ups); calls that ignore the abort (node-redlock takes no signal) are waited for up to ${h.settleMs / 1_000} s more before the next turn, and reported as abandoned. Times come from the system-wide monotonic clock, so holds from different processes are ordered: a _hand-off_ is an acquisition by another worker than the previous holder, an _overlap_ a hold that began before the previous ended.`,
    `- _HTTP_: a Nest (express) app in a child process with one handler four ways: plain, under \`@WithLock('b:ours:http:<0>', { ttl: 5000 })\` from \`RedlockModule.forRoot({ nodes })\`, around \`RedlockService.acquire\`/\`release\` called in the handler (what the decorator's scope adds is the difference between the two), and a control around the hand-written lock; load from the bench process at ${c.http.connections.join(' and ')} connection(s), on ${c.http.nodes.join(' and ')} node(s), ${plural(c.http.slices, 'round')} in which every route gets one ${c.http.sliceS} s slice (rotating order), driven by keep-alive \`node:http\` loops timed with \`performance.now()\` (autocannon counts whole seconds and whole milliseconds). After every round the lock’s own acquire + release is measured in the same app (its \`RedlockService\`, one call at a time); the target is the median over rounds of (locked − plain ms/request in that round) ÷ (that round’s acquire + release).`,
    `- _Memory_: in a child run with \`--expose-gc\`, each contender holds ${c.memory.heldLocks.toLocaleString('en-US')} locks at once on one node: heap after two GCs and \`used_memory\` before and after, plus \`MEMORY USAGE\` of the keys found; then releases them and counts what is left. _Lingering_: each contender takes and releases ${c.lingering.locks} locks with a ${c.lingering.ttl} ms ttl; the node is audited right after and ${c.lingering.ttl + c.lingering.graceMs} ms later.`,
    `- _Soak_: ours (the service) in a child with \`--expose-gc\`: ${c.soak.cycles.toLocaleString('en-US')} cycles (after ${c.soak.warmupCycles.toLocaleString('en-US')} warm-up) with ${c.soak.concurrency} in flight over ${c.soak.keySpace} keys (some collide and wait); heap after GC at ${c.soak.checkpoints} checkpoints.${run.quick ? ' Quick mode: far fewer than the full run’s 1,000,000 cycles.' : ''}`,
    `- _Scaling_: ${c.scaling.contenders.join(', ')} on ${c.scaling.grid ? 'every combination of' : 'the two axes through (1, 1) of'} ${c.scaling.nodes.join('/')} nodes × ${c.scaling.inFlight.join('/')} in flight, ${plural(c.scaling.rounds, 'round')} of ${c.scaling.turnMs} ms turns per cell.`,
    '',
    'Targets are ratios within this run, never timed tests.',
    '',
    '## Machine',
    '',
    `- CPU: ${m.cpus} × ${m.cpuModel}${m.cpuMHz ? ` (${m.cpuMHz} MHz)` : ''}; memory ${m.totalMemGiB.toFixed(1)} GiB; ${m.platform} ${m.release} (${m.arch})`,
    `- Load average (1/5/15 min) at the start ${m.loadAvgAtStart.map((l) => l.toFixed(2)).join(' / ')}` +
      (m.loadAvgAtEnd
        ? `, at the end ${m.loadAvgAtEnd.map((l) => l.toFixed(2)).join(' / ')}`
        : '') +
      (m.stealPercent === undefined
        ? ''
        : `; CPU stolen by the hypervisor over the run ${m.stealPercent.toFixed(1)} % (per phase and per round in the tables)`),
    '- The Redis servers, the bench and its children share these cores over loopback.',
    '',
    '## Versions',
    '',
    `- Node.js ${v.node}; Redis ${v.redis}; nestjs-redlock ${v.ours}`,
    ...Object.entries(v.packages).map(([name, version]) => `- ${name} ${version}`),
    '',
  ];
}
