/**
 * Schedules for the model-based randomized suite: what each simulated process (an engine with
 * its own connections) does and when, and which faults hit the network and the nodes.
 * Plain data, so fast-check can print, shrink and replay them.
 */
import fc from 'fast-check';

export type Mode = 'read' | 'write';
export type WorldKind = 'memory' | 'redis';

export interface LockParams {
  ttl: number;
  wait: number;
  retryDelay: number;
  retryJitter: number;
  nodeTimeout: number;
}

export interface EnginePlan {
  /** Added to the engine's wall clock (ms): skewed client clocks. */
  wallSkew: number;
  /** Speed of the engine's monotonic clock (1 = real time), within the drift allowance. */
  rate: number;
  /** Circuit breakers on (short cool-down) or off. */
  breaker: boolean;
  /** Redis: a client the application passes in, with ioredis defaults (replays after a cut). */
  replaying: boolean;
  /**
   * In-process hand-offs: off, or on with a short bound and a window past any hold here (the
   * default 50 ms window would rarely let a chain start with the plans' holds).
   */
  handOff: false | { max: number; window: number };
}

/** How a nested scope's resources relate to its parent's. */
export type Rel = 'same' | 'more' | 'other';

export interface ScopeOp {
  kind: 'using';
  /** Resource indexes (top level); nested scopes derive theirs through `rel` and `extra`. */
  res: number[];
  rel: Rel;
  extra: number;
  /** `inherit`: the parent's mode (top level: write). */
  mode: Mode | 'inherit';
  fencing: boolean;
  body: Step[];
}

export type Step =
  | { kind: 'work'; ms: number }
  | { kind: 'extend' }
  | { kind: 'nested'; op: ScopeOp }
  | { kind: 'siblings'; ops: ScopeOp[] }
  /** Started inside the scope and not awaited (an event listener, a fire-and-forget task). */
  | { kind: 'escape'; op: ScopeOp; delay: number };

export interface AcquireOp {
  kind: 'acquire' | 'tryAcquire';
  res: number[];
  mode: Mode;
  fencing: boolean;
  body: ({ kind: 'work'; ms: number } | { kind: 'extend' })[];
  /** release; let it expire (never released); release it only after it expired. */
  end: 'release' | 'expire' | 'late-release';
  /** For late-release: how long after the expiry. */
  lateBy: number;
}

/** An acquisition whose wait is abandoned through its signal. */
export interface AbortOp {
  kind: 'abort';
  res: number[];
  after: number;
}

/**
 * Permits of a semaphore (`s0`, `s1`: resources no lock op names). `permits + surplus` holders
 * are asked for at about the same time: copy k on engine `engine + k`, `spread` ms after copy
 * k − 1 (one more than the permits racing is what a wrong permit quorum lets through).
 * `via: 'using'` runs `body` as a scope (its `nested` steps are scopes on the same semaphore:
 * they join its permit); the others hold the permit as `acquire` does and end it by `end`.
 */
export interface PermitOp {
  kind: 'permit';
  sem: number;
  via: 'using' | 'acquire' | 'tryAcquire';
  fencing: boolean;
  body: Step[];
  end: AcquireOp['end'];
  lateBy: number;
  /** Holders asked for past the semaphore's permits (at least one holder in all). */
  surplus: number;
  spread: number;
}

export type Op = ScopeOp | AcquireOp | AbortOp | PermitOp;

export interface Task {
  engine: number;
  at: number;
  op: Op;
}

export type Fault =
  | { kind: 'latency'; at: number; engine: number; node: number; ms: number; for: number }
  | { kind: 'blackhole'; at: number; engine: number; node: number; for: number }
  /** One engine cut off from a majority of the nodes. */
  | { kind: 'partition'; at: number; engine: number; for: number }
  | { kind: 'cut'; at: number; engine: number; node: number }
  | { kind: 'cutMid'; at: number; engine: number; node: number }
  | { kind: 'refuse'; at: number; engine: number; node: number; for: number }
  | { kind: 'pause'; at: number; node: number; for: number }
  /** SIGKILL, then a restart without data after `down` ms (longer than the max ttl). */
  | { kind: 'restart'; at: number; node: number; down: number };

export interface Plan {
  world: WorldKind;
  nodes: number;
  engines: EnginePlan[];
  lock: LockParams;
  resources: number;
  /** Permits of each semaphore resource (`s<i>`), fixed for the plan: 2 or 3. */
  semaphores: number[];
  tasks: Task[];
  faults: Fault[];
  /** Memory world: one engine in degraded mode (process-local locks when no quorum answers). */
  degraded: boolean;
  /** Redis world: close the engines while a node is stopped (close must still return). */
  closeWhilePaused: boolean;
}

const MODES: Mode[] = ['write', 'write', 'read'];

/**
 * `RELIABILITY_WITHOUT=escape,siblings,...` leaves step or fault kinds out of the generated
 * plans: for telling failure classes apart while a known one is being fixed.
 */
const WITHOUT = new Set((process.env.RELIABILITY_WITHOUT ?? '').split(',').filter(Boolean));

function unless<T>(
  kind: string,
  weight: number,
  arbitrary: fc.Arbitrary<T>,
): fc.WeightedArbitrary<T>[] {
  return WITHOUT.has(kind) ? [] : [{ weight, arbitrary }];
}

function resArb(): fc.Arbitrary<number[]> {
  return fc.uniqueArray(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 2 });
}

function scopeArb(depth: number, workMax: number): fc.Arbitrary<ScopeOp> {
  // A top-level scope sometimes works for longer than its ttl: the lease must renew itself.
  return fc.record({
    kind: fc.constant('using' as const),
    res: resArb(),
    rel: fc.constantFrom<Rel>('same', 'same', 'more', 'other'),
    extra: fc.integer({ min: 0, max: 2 }),
    mode: fc.constantFrom<ScopeOp['mode']>('inherit', 'inherit', 'inherit', 'read', 'write'),
    fencing: fc.boolean(),
    body: fc.array(stepArb(depth, workMax), { minLength: 1, maxLength: depth === 0 ? 4 : 3 }),
  });
}

function stepArb(depth: number, workMax: number): fc.Arbitrary<Step> {
  const work = fc.record({
    kind: fc.constant('work' as const),
    ms: fc.integer({ min: 0, max: workMax }),
  });
  const extend = fc.constant({ kind: 'extend' as const });
  if (depth >= 2) return fc.oneof({ weight: 5, arbitrary: work }, { weight: 1, arbitrary: extend });
  // Work past the ttl (at most in one step per plan on average): renewals, and a lease at risk
  // when its engine is cut off.
  const long = fc.record({
    kind: fc.constant('work' as const),
    ms: fc.integer({ min: workMax * 9, max: workMax * 15 }),
  });
  const child = scopeArb(depth + 1, workMax);
  const choices: fc.WeightedArbitrary<Step>[] = [
    { weight: 5, arbitrary: work },
    { weight: 1, arbitrary: extend },
    ...(depth === 0 ? [{ weight: 1, arbitrary: long }] : []),
    ...unless<Step>('nested', 2, fc.record({ kind: fc.constant('nested' as const), op: child })),
    ...unless<Step>(
      'siblings',
      2,
      fc.record({
        kind: fc.constant('siblings' as const),
        ops: fc.array(child, { minLength: 2, maxLength: 3 }),
      }),
    ),
    ...unless<Step>(
      'escape',
      2,
      fc.record({
        kind: fc.constant('escape' as const),
        op: child,
        delay: fc.constantFrom(0, 0, 5, 30),
      }),
    ),
  ];
  return fc.oneof(...choices);
}

function acquireArb(workMax: number): fc.Arbitrary<AcquireOp> {
  return fc.record({
    kind: fc.constantFrom<AcquireOp['kind']>('acquire', 'acquire', 'tryAcquire'),
    res: resArb(),
    mode: fc.constantFrom(...MODES),
    fencing: fc.boolean(),
    body: fc.array(
      fc.oneof(
        {
          weight: 4,
          arbitrary: fc.record({
            kind: fc.constant('work' as const),
            ms: fc.integer({ min: 0, max: workMax }),
          }),
        },
        { weight: 1, arbitrary: fc.constant({ kind: 'extend' as const }) },
      ),
      { minLength: 1, maxLength: 3 },
    ),
    end: fc.constantFrom<AcquireOp['end']>('release', 'release', 'expire', 'late-release'),
    lateBy: fc.integer({ min: 0, max: 60 }),
  });
}

function permitArb(workMax: number): fc.Arbitrary<PermitOp> {
  const work = fc.record({
    kind: fc.constant('work' as const),
    ms: fc.integer({ min: 0, max: workMax }),
  });
  const extend = fc.constant({ kind: 'extend' as const });
  // A holder that outlives its ttl (renewals on every node), now and then.
  const long = fc.record({
    kind: fc.constant('work' as const),
    ms: fc.integer({ min: workMax * 6, max: workMax * 12 }),
  });
  const nested = fc.record({
    kind: fc.constant('nested' as const),
    op: fc.record({
      kind: fc.constant('using' as const),
      res: fc.constant<number[]>([]),
      rel: fc.constant<Rel>('same'),
      extra: fc.constant(0),
      mode: fc.constant<ScopeOp['mode']>('inherit'),
      fencing: fc.boolean(),
      body: fc.array(fc.oneof({ weight: 4, arbitrary: work }, { weight: 1, arbitrary: extend }), {
        minLength: 1,
        maxLength: 2,
      }),
    }),
  });
  return fc.record({
    kind: fc.constant('permit' as const),
    sem: fc.integer({ min: 0, max: 1 }),
    via: fc.constantFrom<PermitOp['via']>('using', 'using', 'acquire', 'acquire', 'tryAcquire'),
    fencing: fc.boolean(),
    body: fc.array(
      fc.oneof(
        { weight: 5, arbitrary: work },
        { weight: 1, arbitrary: extend },
        { weight: 1, arbitrary: long },
        ...unless<Step>('nested', 1, nested),
      ),
      { minLength: 1, maxLength: 3 },
    ),
    end: fc.constantFrom<AcquireOp['end']>('release', 'release', 'expire', 'late-release'),
    lateBy: fc.integer({ min: 0, max: 60 }),
    surplus: fc.constantFrom(-1, 0, 1, 1, 1),
    spread: fc.constantFrom(0, 0, 0, 5, 20),
  });
}

function opArb(workMax: number, maxAfter: number): fc.Arbitrary<Op> {
  return fc.oneof(
    { weight: 5, arbitrary: scopeArb(0, workMax) },
    { weight: 3, arbitrary: acquireArb(workMax) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('abort' as const),
        res: resArb(),
        after: fc.integer({ min: 0, max: maxAfter }),
      }),
    },
    // Semaphores: a modest share (each op asks for 1–3 permits at once).
    ...unless<Op>('permit', 2, permitArb(workMax)),
  );
}

function faultArb(world: WorldKind, ttl: number): fc.Arbitrary<Fault> {
  const at = fc.integer({ min: 0, max: 500 });
  const engine = fc.integer({ min: 0, max: 2 });
  const node = fc.integer({ min: 0, max: 2 });
  const span = fc.integer({ min: 30, max: Math.round(ttl * 1.5) });
  const faults: [string, number, fc.Arbitrary<Fault>][] = [
    [
      'latency',
      2,
      fc.record({
        kind: fc.constant('latency' as const),
        at,
        engine,
        node,
        ms: fc.integer({ min: 60, max: 200 }),
        for: span,
      }),
    ],
    [
      'blackhole',
      2,
      fc.record({ kind: fc.constant('blackhole' as const), at, engine, node, for: span }),
    ],
    [
      'partition',
      3,
      fc.record({
        kind: fc.constant('partition' as const),
        at,
        engine,
        for: fc.integer({ min: ttl, max: ttl * 2 }),
      }),
    ],
    ['cut', 1, fc.record({ kind: fc.constant('cut' as const), at, engine, node })],
    ['cutMid', 2, fc.record({ kind: fc.constant('cutMid' as const), at, engine, node })],
    ['refuse', 1, fc.record({ kind: fc.constant('refuse' as const), at, engine, node, for: span })],
    [
      'pause',
      2,
      fc.record({
        kind: fc.constant('pause' as const),
        at,
        node,
        for: fc.integer({ min: 30, max: world === 'redis' ? 400 : ttl }),
      }),
    ],
    [
      'restart',
      1,
      fc.record({
        kind: fc.constant('restart' as const),
        at,
        node,
        down: fc.integer({ min: ttl + 50, max: ttl + 200 }),
      }),
    ],
  ];
  return fc.oneof(
    ...faults.flatMap(([kind, weight, arbitrary]) => unless(kind, weight, arbitrary)),
  );
}

/** Lock parameters per world: short ttls so that expiry and renewal happen within a run. */
function lockArb(world: WorldKind): fc.Arbitrary<LockParams> {
  return world === 'memory'
    ? fc.record({
        ttl: fc.integer({ min: 150, max: 400 }),
        wait: fc.oneof(fc.constant(0), fc.integer({ min: 100, max: 500 })),
        retryDelay: fc.integer({ min: 20, max: 80 }),
        retryJitter: fc.integer({ min: 0, max: 20 }),
        nodeTimeout: fc.integer({ min: 40, max: 60 }),
      })
    : fc.record({
        ttl: fc.integer({ min: 300, max: 700 }),
        wait: fc.oneof(fc.constant(0), fc.integer({ min: 200, max: 700 })),
        retryDelay: fc.integer({ min: 30, max: 100 }),
        retryJitter: fc.integer({ min: 0, max: 30 }),
        nodeTimeout: fc.integer({ min: 40, max: 70 }),
      });
}

export function planArb(world: WorldKind, scale = 1): fc.Arbitrary<Plan> {
  return lockArb(world).chain((lock) => {
    const workMax = Math.round(lock.ttl / 6);
    return fc
      .record({
        world: fc.constant(world),
        nodes: world === 'redis' ? fc.constant(3) : fc.constantFrom(1, 3, 3, 3),
        engines: fc.array(
          fc.record({
            wallSkew: fc.oneof(fc.constant(0), fc.integer({ min: -300_000, max: 300_000 })),
            rate: fc.constantFrom(1, 1, 1.004, 0.996),
            breaker: fc.boolean(),
            replaying: fc.boolean(),
            handOff: fc.oneof(
              { weight: 1, arbitrary: fc.constant<false>(false) },
              {
                weight: 3,
                arbitrary: fc.record({
                  max: fc.integer({ min: 1, max: 4 }),
                  window: fc.constant(10_000),
                }),
              },
            ),
          }),
          { minLength: 2, maxLength: 3 },
        ),
        lock: fc.constant(lock),
        resources: fc.integer({ min: 1, max: 3 }),
        // Mostly 2 permits: 3 racing holders on 3 engines overfill it when the quorum is wrong.
        semaphores: fc.array(fc.constantFrom(2, 2, 2, 3), { minLength: 1, maxLength: 2 }),
        tasks: fc.array(
          fc.record({
            engine: fc.integer({ min: 0, max: 2 }),
            at: fc.integer({ min: 0, max: 300 }),
            op: opArb(workMax, lock.wait + 50),
          }),
          { minLength: 4, maxLength: Math.round(10 * Math.max(1, Math.sqrt(scale))) },
        ),
        faults: fc.oneof(
          { weight: 1, arbitrary: fc.constant<Fault[]>([]) },
          {
            weight: 2,
            arbitrary: fc.array(faultArb(world, lock.ttl), { minLength: 1, maxLength: 3 }),
          },
        ),
        degraded:
          world === 'memory'
            ? fc.integer({ min: 0, max: 3 }).map((n) => n === 0)
            : fc.constant(false),
        closeWhilePaused: world === 'redis' ? fc.boolean() : fc.constant(false),
      })
      .map((plan) => aimPartitions(plan, workMax));
  });
}

/**
 * A partition matters most to an engine that holds a lock for longer than its ttl (its lease
 * must renew through the partition): each partition is aimed at such a scope when the plan has
 * one, starting shortly after it.
 */
function aimPartitions(plan: Plan, workMax: number): Plan {
  const long = plan.tasks.filter(
    (task) =>
      task.op.kind === 'using' &&
      task.op.body.some((step) => step.kind === 'work' && step.ms > workMax * 5),
  );
  if (long.length === 0) return plan;
  return {
    ...plan,
    faults: plan.faults.map((fault, index) => {
      if (fault.kind !== 'partition') return fault;
      const target = long[index % long.length]!;
      return { ...fault, engine: target.engine, at: target.at + 30 };
    }),
  };
}
