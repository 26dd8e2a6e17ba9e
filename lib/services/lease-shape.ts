import type { LockMode } from '../interfaces/lock-options.interface.js';
import type { LeaseDriver } from './lease-driver.js';

/** The options a lease keeps, shared by every lease of one engine granted with the same ones. */
export interface LeaseShape {
  /** The engine's I/O for the lease (extension, release, loss). */
  readonly driver: LeaseDriver;
  readonly ttl: number;
  readonly nodeTimeout: number;
  readonly driftFactor: number;
  readonly mode: LockMode;
  /** 1 for a lock; more for a semaphore's permit. */
  readonly permits: number;
  /** Renews itself at half-life (`using`, `@WithLock`) instead of lapsing at its ttl. */
  readonly autoExtend: boolean;
}

/**
 * One engine's shapes by ttl (the engine keeps it, so a closed engine's go with it); an
 * application uses a handful of ttls, so a small cap keeps it bounded.
 */
export type LeaseShapes = Map<number, LeaseShape[]>;
const MAX_TTLS = 256;
const MAX_PER_TTL = 8;

/**
 * The shared shape for these options. A held lock keeps one reference instead of five fields
 * (one of them a boxed double): 64 bytes less per held lock, and held locks are counted in
 * the thousands. Options past the caps get a shape of their own, as if not shared.
 */
export function leaseShape(
  driver: LeaseDriver,
  ttl: number,
  nodeTimeout: number,
  driftFactor: number,
  mode: LockMode,
  permits: number,
  autoExtend: boolean,
): LeaseShape {
  const shapes = driver.shapes;
  let same = shapes.get(ttl);
  if (same) {
    for (const shape of same) {
      if (
        shape.nodeTimeout === nodeTimeout &&
        shape.driftFactor === driftFactor &&
        shape.mode === mode &&
        shape.permits === permits &&
        shape.autoExtend === autoExtend
      ) {
        return shape;
      }
    }
  }
  const shape: LeaseShape = Object.freeze({
    driver,
    ttl,
    nodeTimeout,
    driftFactor,
    mode,
    permits,
    autoExtend,
  });
  if (!same && shapes.size < MAX_TTLS) shapes.set(ttl, (same = []));
  if (same && same.length < MAX_PER_TTL) same.push(shape);
  return shape;
}
