import { setTimeout as sleepPromise } from 'node:timers/promises';

/**
 * Milliseconds on the system-wide monotonic clock (CLOCK_MONOTONIC through `process.hrtime`).
 * Unlike `performance.now()`, whose origin is the process start, readings from different
 * processes on one machine are comparable: the contended workload orders acquisitions made in
 * several child processes on this clock.
 */
export function mono(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Sleeps `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return sleepPromise(ms, undefined, signal ? { signal } : undefined);
}

/** Rejects with `message` if `promise` has not settled within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(message)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** Resolves `true` when `promise` settled within `ms`, `false` otherwise; never rejects. */
export async function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = promise.then(
    () => true as const,
    () => true as const,
  );
  const result = await Promise.race([settled, timeout]);
  clearTimeout(timer);
  return result;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
