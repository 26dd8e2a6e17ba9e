import { randomFillSync } from 'node:crypto';
import type { Clock } from './clock.js';

// Owner values come from a pooled buffer of crypto-random bytes: one syscall per 256 locks.
const POOL = Buffer.alloc(16 * 256);
let poolOffset = POOL.length;

/**
 * A new owner value for every acquisition attempt: 128 random bits from `node:crypto` as 22
 * base64url characters, then, when the engine has an instance tag, `.<tag>.<wall ms, base 36>`
 * (`Xq3…22 chars.k9Df0aZ1.mhx2k1qz`). The suffix is holder information that `inspect()` reads
 * back from the value itself, so naming the holder costs no command per lock (the tag points to
 * the instance record, see `instance-record.ts`). At most 44 bytes, so Redis still stores it as
 * an embstr like a 32-hex value. Only the random part is secret; the suffix is public.
 */
export function ownerValue(tag?: string, clock?: Pick<Clock, 'wallNow'>): string {
  if (poolOffset >= POOL.length) {
    randomFillSync(POOL);
    poolOffset = 0;
  }
  const token = POOL.toString('base64url', poolOffset, poolOffset + 16);
  poolOffset += 16;
  if (tag === undefined) return token;
  const wall = clock ? clock.wallNow() : Date.now();
  // Number#toString(36) costs more than the rest together, and under load many locks of one
  // engine share a millisecond: the suffix is made once per engine tag and ms.
  if (wall !== suffixWall || tag !== suffixTag) {
    suffixWall = wall;
    suffixTag = tag;
    suffix = `.${tag}.${wall.toString(36)}`;
  }
  return token + suffix;
}

let suffixWall = NaN;
let suffixTag = '';
let suffix = '';
