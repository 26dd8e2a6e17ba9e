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
  let end = base64url16(POOL, poolOffset, VALUE);
  poolOffset += 16;
  if (tag !== undefined) {
    const wall = clock ? clock.wallNow() : Date.now();
    // Number#toString(36) costs more than the rest together, and under load many locks of one
    // engine share a millisecond: the suffix is made once per engine tag and ms.
    if (wall !== suffixWall || tag !== suffixTag) {
      suffixWall = wall;
      suffixTag = tag;
      suffixLength = SUFFIX.write(`.${tag}.${wall.toString(36)}`, 'latin1');
    }
    SUFFIX.copy(VALUE, end, 0, suffixLength);
    end += suffixLength;
  }
  // One flat string straight from the bytes: a held lock keeps its value, and `token + suffix`
  // would keep a tree of four strings (about 100 bytes more per lock).
  return VALUE.toString('latin1', 0, end);
}

const BASE64URL = Buffer.from(
  'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
  'latin1',
);
/** The value being built: 22 token characters, then the suffix (holder tags are short). */
const VALUE = Buffer.alloc(128);
const SUFFIX = Buffer.alloc(128 - 22);
let suffixLength = 0;
let suffixWall = NaN;
let suffixTag = '';

/**
 * @internal 16 bytes of `source` from `offset` as 22 base64url characters (no padding) at the
 * start of `target`; returns 22. The same characters as `toString('base64url')`, without
 * making a string.
 */
export function base64url16(source: Uint8Array, offset: number, target: Uint8Array): number {
  let out = 0;
  for (let i = offset; i < offset + 15; i += 3) {
    const bits = (source[i]! << 16) | (source[i + 1]! << 8) | source[i + 2]!;
    target[out++] = BASE64URL[bits >>> 18]!;
    target[out++] = BASE64URL[(bits >>> 12) & 63]!;
    target[out++] = BASE64URL[(bits >>> 6) & 63]!;
    target[out++] = BASE64URL[bits & 63]!;
  }
  const last = source[offset + 15]!;
  target[out++] = BASE64URL[last >>> 2]!;
  target[out++] = BASE64URL[(last & 3) << 4]!;
  return out;
}
