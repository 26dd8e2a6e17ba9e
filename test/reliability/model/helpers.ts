/** Small helpers of the model runner: tokens, waits on a lock's signal, counting, errors. */
import { clearTimeout, setTimeout } from 'node:timers';
import type { Lock } from '../../../lib/services/lock.js';

export function tokenOf(lock: Lock): number | undefined {
  try {
    const token: unknown = lock.fencingToken;
    return typeof token === 'number' ? token : undefined;
  } catch {
    return undefined;
  }
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function abortable(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Resolves when the lock's signal aborts (lost at its expiry, or released). */
export function lostOrReleased(lock: Lock): Promise<void> {
  const signal = lock.signal;
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener('abort', () => resolve(), { once: true }),
  );
}

export function isAbort(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { name?: unknown }).name === 'AbortError'
  );
}

export function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

export function count(into: Record<string, number>, key: string): void {
  into[key] = (into[key] ?? 0) + 1;
}

export function noop(): void {}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const lines = process.env.RELIABILITY_TRACE === '1' ? 30 : 4;
    return `${error.name}: ${error.message}${error.stack ? `\n${error.stack.split('\n').slice(1, lines).join('\n')}` : ''}`;
  }
  return String(error);
}

/** Whether `promise` fulfils within `ms` (false at `ms`; a rejection rejects). */
export function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([
    promise.then(() => true),
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      void promise.then(() => clearTimeout(timer));
    }),
  ]);
}
