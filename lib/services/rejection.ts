/**
 * A synchronous throw of a non-async entry point, turned into the rejection an async function
 * would have given: callers of a promise-returning method only ever see a rejected promise.
 */
export function rejection(error: unknown): Promise<never> {
  return Promise.reject(error instanceof Error ? error : new Error(String(error)));
}
