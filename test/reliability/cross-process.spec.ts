import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ChildProcess, fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { FaultProxy } from '../support/fault-proxy.js';
import { type RedisFleet, startRedisFleet } from '../support/redis-fleet.js';
import { type Mode, type Ticket, Witness } from '../support/witness.js';
import { seedFromEnv } from './model/property.js';
import { type ScenarioRow, saveResult } from './report.js';

/**
 * Mutual exclusion across real processes: three worker processes (worker.mjs, each one Redlock
 * engine on the library's sources) lock resources on 3 Redis nodes, each through fault proxies
 * of its own. The witness lives here, in the parent: every critical section reports `enter`
 * and `exit` over IPC and waits for the acknowledgement, so the order the witness sees is the
 * real one. A fenced store here refuses writes with a token below the last one it accepted.
 * Faults: node SIGSTOP and SIGKILL + restart, a holder SIGKILLed, a holder's event loop
 * blocked past its ttl, a holder partitioned from a majority, wall clocks moved by minutes.
 *
 * The workers draw their operations from the suite's seed (printed; RELIABILITY_SEED replays
 * the operation sequences). RELIABILITY_SCALE multiplies each scenario's duration.
 */
const here = dirname(fileURLToPath(import.meta.url));
const WORKER = join(here, 'worker.mjs');
const REGISTER = join(here, 'ts-register.mjs');
const SCALE = Math.max(1, Number(process.env.RELIABILITY_SCALE ?? 1));
const LOCK = { ttl: 400, wait: 800, nodeTimeout: 40, retryDelay: 40, retryJitter: 10 };
const WORKERS = 3;
const SEED = seedFromEnv();

interface WorkerStats {
  worker: number;
  sections: number;
  reads: number;
  errors: Record<string, number>;
  unexpected: string[];
  maxSettleMs: number;
  pausedSignalAborted: number;
  pausedSignalNotAborted: number;
}

interface EnterMessage {
  type: 'enter';
  seq: number;
  worker: number;
  resource: string;
  mode: Mode;
  token: number | undefined;
  validUntil: number;
  /** A section told to hold on (until its lock is lost). */
  linger: number;
  at: number;
}

interface Worker {
  id: number;
  child: ChildProcess;
  alive: boolean;
  /** Open sections of this worker (one at most), for a SIGKILL. */
  open: Map<string, Ticket>;
  /** Until when the lock of its open section is valid (renewals move it). */
  validUntil: Map<string, number>;
}

const epoch = (): number => performance.timeOrigin + performance.now();

describe('mutual exclusion across processes (3 workers, 3 Redis nodes behind fault proxies)', () => {
  let fleet: RedisFleet;
  /** proxies[worker][node] */
  let proxies: FaultProxy[][];
  const workers: Worker[] = [];
  const rows: ScenarioRow[] = [];
  const violations: { kind: string; detail: string; seed: number }[] = [];
  const started = performance.now();
  // Per scenario:
  let witness = new Witness();
  let fenced = new Map<string, number>();
  let stale = { accepted: 0, refused: 0 };
  /** Fenced writes the store accepted or refused, in arrival order (late writes aside). */
  let writes: { worker: number; resource: string; token: number; at: number }[] = [];
  const writeListeners = new Set<() => void>();
  let enteredAfter = new Map<string, number>();
  let onEnter: ((message: EnterMessage) => void) | undefined;

  function spawnWorker(id: number): Promise<Worker> {
    const child = fork(WORKER, [], {
      execArgv: ['--import', REGISTER, '--no-warnings'],
      env: {
        ...process.env,
        RELIABILITY_WORKER: JSON.stringify({
          id,
          seed: SEED,
          ports: proxies[id]!.map((p) => p.port),
          lock: LOCK,
          resources: ['hot'],
          readShare: 0.3,
        }),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const worker: Worker = { id, child, alive: true, open: new Map(), validUntil: new Map() };
    child.once('exit', () => (worker.alive = false));
    child.on('message', (message: { type: string; seq?: number } & Record<string, unknown>) =>
      handle(worker, message),
    );
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`worker ${id} exited (${code}) before ready`)));
      child.on('message', (message: { type: string }) => {
        if (message.type === 'ready') resolve(worker);
      });
    });
  }

  function ack(worker: Worker, seq: number | undefined, extra: Record<string, unknown> = {}): void {
    if (worker.alive && worker.child.connected) worker.child.send({ type: 'ack', seq, ...extra });
  }

  /**
   * A write from a holder whose lock expired while it was paused. The store judges it only once
   * another worker has written under a lock taken after that expiry: before that, nobody holds a
   * newer token and a fenced store rightly accepts it. Under a loaded machine the others may need
   * longer than the pause to get in, so this waits for their write rather than for a time.
   */
  async function lateWrite(
    worker: Worker,
    resource: string,
    token: number | undefined,
  ): Promise<void> {
    if (token === undefined) {
      witness.fail('late-write-unfenced', `worker ${worker.id} paused in an unfenced section`);
      return;
    }
    const expired = worker.validUntil.get(resource) ?? 0;
    const newer = (): boolean =>
      writes.some((w) => w.worker !== worker.id && w.resource === resource && w.at > expired);
    if (!newer()) {
      const waited = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => done(false), 10 * LOCK.ttl * SCALE);
        const listener = (): void => {
          if (newer()) done(true);
        };
        const done = (found: boolean): void => {
          clearTimeout(timer);
          writeListeners.delete(listener);
          resolve(found);
        };
        writeListeners.add(listener);
      });
      if (!waited) {
        witness.fail(
          'late-write-unjudged',
          `nobody wrote ${resource} within ${10 * LOCK.ttl * SCALE} ms after worker ${worker.id}'s lock expired`,
        );
        return;
      }
    }
    const last = fenced.get(resource) ?? -Infinity;
    if (token >= last) {
      stale.accepted += 1;
      const history = writes
        .filter((w) => w.resource === resource)
        .slice(-8)
        .map((w) => `w${w.worker}:${w.token}`)
        .join(' ');
      witness.fail(
        'stale-write-accepted',
        `worker ${worker.id}'s late write with token ${token} was accepted over ${last} (last writes: ${history})`,
      );
    } else stale.refused += 1;
  }

  function handle(
    worker: Worker,
    message: { type: string; seq?: number } & Record<string, unknown>,
  ) {
    switch (message.type) {
      case 'enter': {
        const m = message as unknown as EnterMessage;
        worker.validUntil.set(m.resource, m.validUntil);
        const ticket = witness.enter({
          resources: [m.resource],
          mode: m.mode,
          holder: `w${worker.id}`,
          lineage: [m.seq],
          token: m.token,
          held: () => epoch() < (worker.validUntil.get(m.resource) ?? 0),
          label: `worker ${worker.id} (${m.mode}${m.token === undefined ? '' : `, token ${m.token}`})`,
        });
        worker.open.set(m.resource, ticket);
        enteredAfter.set(m.resource, (enteredAfter.get(m.resource) ?? 0) + 1);
        onEnter?.(m);
        ack(worker, m.seq);
        return;
      }
      case 'write': {
        const resource = message.resource as string;
        const token = message.token as number | undefined;
        if (message.late === true) {
          void lateWrite(worker, resource, token).then(() => ack(worker, message.seq));
          return;
        }
        if (token !== undefined) {
          const last = fenced.get(resource) ?? -Infinity;
          if (token >= last) fenced.set(resource, token);
          else
            witness.fail(
              'fenced-write-refused',
              `worker ${worker.id} holds ${resource} but its token ${token} is below ${last}`,
            );
          writes.push({ worker: worker.id, resource, token, at: epoch() });
          for (const listener of [...writeListeners]) listener();
        }
        ack(worker, message.seq);
        return;
      }
      case 'renewed': {
        const resource = message.resource as string;
        if (worker.open.has(resource)) {
          const until = message.validUntil as number;
          worker.validUntil.set(resource, Math.max(worker.validUntil.get(resource) ?? 0, until));
        }
        return;
      }
      case 'exit': {
        const ticket = worker.open.get(message.resource as string);
        if (ticket) witness.exit(ticket);
        worker.open.delete(message.resource as string);
        ack(worker, message.seq);
        return;
      }
      default:
    }
  }

  /** Runs every live worker for `ms` and collects their figures. */
  async function runWorkers(ms: number): Promise<WorkerStats[]> {
    const live = workers.filter((w) => w.alive);
    const done = live.map(
      (worker) =>
        new Promise<WorkerStats | undefined>((resolve) => {
          const onMessage = (message: { type: string; stats?: WorkerStats }): void => {
            if (message.type !== 'stats') return;
            worker.child.off('message', onMessage);
            resolve(message.stats);
          };
          worker.child.on('message', onMessage);
          worker.child.once('exit', () => resolve(undefined));
          worker.child.send({ type: 'run', ms });
        }),
    );
    return (await Promise.all(done)).filter((s): s is WorkerStats => s !== undefined);
  }

  async function scenario(
    name: string,
    checks: string,
    seconds: number,
    faults: () => Promise<{ faults: number; handoverMs?: number }> = () =>
      Promise.resolve({ faults: 0 }),
  ): Promise<{ row: ScenarioRow; stats: WorkerStats[] }> {
    witness = new Witness();
    fenced = new Map();
    stale = { accepted: 0, refused: 0 };
    writes = [];
    enteredAfter = new Map();
    const began = performance.now();
    const [stats, injected] = await Promise.all([runWorkers(seconds * 1_000 * SCALE), faults()]);
    const errors: Record<string, number> = {};
    for (const s of stats)
      for (const [k, v] of Object.entries(s.errors)) errors[k] = (errors[k] ?? 0) + v;
    const row: ScenarioRow = {
      name,
      checks,
      seconds: Math.round((performance.now() - began) / 100) / 10,
      sections: stats.reduce((sum, s) => sum + s.sections, 0),
      reads: stats.reduce((sum, s) => sum + s.reads, 0),
      faults: injected.faults,
      violations: witness.violations.length,
      staleAccepted: stale.accepted,
      staleRefused: stale.refused,
      maxSettleMs: Math.max(0, ...stats.map((s) => s.maxSettleMs)),
      handoverMs: injected.handoverMs,
      errors,
    };
    rows.push(row);
    for (const v of witness.violations)
      violations.push({ kind: v.kind, detail: `${name}: ${v.detail}`, seed: SEED });
    const unexpected = stats.flatMap((s) => s.unexpected);
    for (const u of unexpected)
      violations.push({ kind: 'unexpected-error', detail: `${name}: ${u}`, seed: SEED });
    expect({ violations: witness.violations, unexpected, staleAccepted: stale.accepted }).toEqual({
      violations: [],
      unexpected: [],
      staleAccepted: 0,
    });
    expect(row.sections).toBeGreaterThan(0);
    // Every call settles: a failed acquisition within its wait and a few node timeouts.
    expect(row.maxSettleMs).toBeLessThanOrEqual(LOCK.wait + 8 * LOCK.nodeTimeout + 500);
    return { row, stats };
  }

  beforeAll(async () => {
    process.stdout.write(`[reliability] cross-process: seed ${SEED}, scale ${SCALE}\n`);
    fleet = await startRedisFleet({ nodes: 3 });
    proxies = await Promise.all(
      Array.from({ length: WORKERS }, (_, w) =>
        Promise.all(
          fleet.nodes.map((node, n) =>
            FaultProxy.start({
              target: { host: node.host, port: node.port },
              name: `w${w}->n${n}`,
            }),
          ),
        ),
      ),
    );
    workers.push(
      ...(await Promise.all(Array.from({ length: WORKERS }, (_, id) => spawnWorker(id)))),
    );
  }, 30_000);

  afterAll(async () => {
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (!worker.alive) return resolve();
            const timer = setTimeout(() => {
              worker.child.kill('SIGKILL');
              resolve();
            }, 3_000);
            worker.child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            worker.child.send({ type: 'close' });
          }),
      ),
    );
    await Promise.all((proxies ?? []).flat().map((proxy) => proxy.close()));
    await fleet?.stop();
    await saveResult({
      suite: 'cross-process',
      title: 'Cross-process checker (3 worker processes, 3 Redis nodes)',
      file: 'test/reliability/cross-process.spec.ts',
      kind: 'scenarios',
      scale: SCALE,
      at: new Date().toISOString(),
      durationMs: Math.round(performance.now() - started),
      seeds: [SEED],
      failed: violations.length > 0,
      summary: {
        scenarios: rows.length,
        sections: rows.reduce((sum, r) => sum + r.sections, 0),
        'reader sections': rows.reduce((sum, r) => sum + r.reads, 0),
        'stale writes accepted (refused)': `${rows.reduce((s, r) => s + r.staleAccepted, 0)} (${rows.reduce((s, r) => s + r.staleRefused, 0)})`,
        violations: violations.length,
      },
      faults: Object.fromEntries(rows.filter((r) => r.faults > 0).map((r) => [r.name, r.faults])),
      violations,
      rows,
    });
  });

  it('keeps one holder at a time on a hot resource (readers and writers)', async () => {
    await scenario(
      'hot resource, 30 % readers',
      'witness: exclusion, fencing order, fenced writes',
      2,
    );
  }, 30_000);

  it('stays exclusive while a node is stopped and another is killed and restarted without data', async () => {
    await scenario(
      'SIGSTOP 1 node; SIGKILL + restart another (down > ttl)',
      'quorum of 2 keeps working',
      2.5,
      async () => {
        await delay(300 * SCALE);
        await fleet.nodes[0]!.pause();
        await delay(LOCK.nodeTimeout * 10);
        await fleet.nodes[0]!.resume();
        await fleet.nodes[1]!.kill();
        await delay(LOCK.ttl + 150);
        await fleet.nodes[1]!.restart();
        return { faults: 2 };
      },
    );
  }, 30_000);

  it('hands a SIGKILLed holder’s lock on within its ttl and a retry delay', async () => {
    const result = await scenario(
      'holder SIGKILLed while holding',
      'next holder within ttl + retry delay',
      2,
      async () => {
        await delay(300 * SCALE);
        const victim = workers[0]!;
        const holding = new Promise<void>((resolve) => {
          victim.child.on('message', (m: { type: string }) => {
            if (m.type === 'holding') resolve();
          });
        });
        victim.child.send({ type: 'crash-when-holding' });
        await holding;
        const next = new Promise<number>((resolve) => {
          onEnter = (m) => {
            if (m.worker !== victim.id) {
              onEnter = undefined;
              resolve(epoch());
            }
          };
        });
        const killedAt = epoch();
        victim.child.kill('SIGKILL');
        // The dead process runs nothing any more: its section ends here.
        for (const ticket of victim.open.values()) witness.exit(ticket);
        victim.open.clear();
        const handoverMs = Math.round((await next) - killedAt);
        return { faults: 1, handoverMs };
      },
    );
    expect(result.row.handoverMs).toBeLessThanOrEqual(
      LOCK.ttl + LOCK.retryDelay + LOCK.retryJitter + 200,
    );
    // A new process takes the place of the one killed.
    workers[0] = await spawnWorker(0);
  }, 30_000);

  it('aborts a holder paused past its ttl at its first look, and refuses its late fenced write', async () => {
    const result = await scenario(
      'holder event loop blocked for ttl + 300 ms',
      'signal aborted at once; stale write refused',
      2,
      async () => {
        await delay(300 * SCALE);
        workers[1]!.child.send({ type: 'block', ms: LOCK.ttl + 300 });
        return { faults: 1 };
      },
    );
    const paused = result.stats.find((s) => s.worker === 1)!;
    expect({
      aborted: paused.pausedSignalAborted,
      notAborted: paused.pausedSignalNotAborted,
    }).toEqual({
      aborted: 1,
      notAborted: 0,
    });
    expect(result.row.staleAccepted).toBe(0);
    // The late write was put to the store after a newer holder wrote, and refused.
    expect(result.row.staleRefused).toBe(1);
  }, 30_000);

  it('makes a holder cut off from a majority stop before anyone else enters', async () => {
    let lostAfterMs = 0;
    await scenario(
      'worker 2 partitioned from 2 of 3 nodes while holding',
      'witness: the partitioned holder stops first',
      2.5,
      async () => {
        await delay(300 * SCALE);
        // Worker 2 holds on in its next section (its lease renewing) until its lock is lost.
        const inside = new Promise<void>((resolve) => {
          onEnter = (m) => {
            if (m.worker === 2 && m.linger > 0) {
              onEnter = undefined;
              resolve();
            }
          };
        });
        workers[2]!.child.send({ type: 'linger', ms: 10 * LOCK.ttl });
        await inside;
        const cutAt = performance.now();
        const cut = [proxies[2]![0]!, proxies[2]![1]!];
        for (const proxy of cut) proxy.blackhole();
        // Someone else gets in only once worker 2 has let go (the witness checks the order).
        await new Promise<void>((resolve) => {
          onEnter = (m) => {
            if (m.worker !== 2) {
              onEnter = undefined;
              resolve();
            }
          };
        });
        lostAfterMs = Math.round(performance.now() - cutAt);
        for (const proxy of cut) proxy.heal({ held: 'cut' });
        return { faults: 1, handoverMs: lostAfterMs };
      },
    );
    // Within the validity it had (a ttl) and a retry of the others.
    expect(lostAfterMs).toBeLessThanOrEqual(LOCK.ttl * 2 + 300);
  }, 30_000);

  it('ignores wall-clock jumps of minutes in either direction', async () => {
    await scenario(
      'Date.now +5 min / -5 min in two workers',
      'validity on the monotonic clock',
      2,
      async () => {
        await delay(300 * SCALE);
        workers[1]!.child.send({ type: 'clock', offsetMs: 5 * 60_000 });
        workers[2]!.child.send({ type: 'clock', offsetMs: -5 * 60_000 });
        return { faults: 2 };
      },
    );
    for (const worker of workers) worker.child.send({ type: 'clock', offsetMs: 0 });
  }, 30_000);
});
