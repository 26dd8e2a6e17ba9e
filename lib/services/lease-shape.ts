import type { LockMode } from '../interfaces/lock-options.interface.js';

/** The options a lease keeps, shared by every lease granted with the same ones. */
export interface LeaseShape {
  readonly ttl: number;
  readonly nodeTimeout: number;
  readonly driftFactor: number;
  readonly mode: LockMode;
  /** 1 for a lock; more for a semaphore's permit. */
  readonly permits: number;
}

/** Shapes by ttl; an application uses a handful of ttls, so a small cap keeps it bounded. */
const shapes = new Map<number, LeaseShape[]>();
const MAX_TTLS = 256;
const MAX_PER_TTL = 8;

/**
 * The shared shape for these options. A held lock keeps one reference instead of five fields
 * (one of them a boxed double): 48 bytes less per held lock, and held locks are counted in
 * the thousands. Options past the caps get a shape of their own, as if not shared.
 */
export function leaseShape(
  ttl: number,
  nodeTimeout: number,
  driftFactor: number,
  mode: LockMode,
  permits: number,
): LeaseShape {
  let same = shapes.get(ttl);
  if (same) {
    for (const shape of same) {
      if (
        shape.nodeTimeout === nodeTimeout &&
        shape.driftFactor === driftFactor &&
        shape.mode === mode &&
        shape.permits === permits
      ) {
        return shape;
      }
    }
  }
  const shape: LeaseShape = Object.freeze({ ttl, nodeTimeout, driftFactor, mode, permits });
  if (!same && shapes.size < MAX_TTLS) shapes.set(ttl, (same = []));
  if (same && same.length < MAX_PER_TTL) same.push(shape);
  return shape;
}
