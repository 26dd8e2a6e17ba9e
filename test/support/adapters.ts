import { createLockAdapter } from '../../lib/adapters/lock-adapter.factory.js';
import type { LockAdapter } from '../../lib/interfaces/lock-adapter.interface.js';

/** Lock adapters for the given node URLs, connected before they are returned. */
export async function connectAdapters(urls: readonly string[]): Promise<LockAdapter[]> {
  const adapters = urls.map((url) => createLockAdapter(url));
  await Promise.all(adapters.map((adapter) => adapter.ready?.(10_000) ?? Promise.resolve()));
  return adapters;
}

export async function closeAdapters(adapters: readonly LockAdapter[]): Promise<void> {
  await Promise.all(adapters.map((adapter) => adapter.close()));
}

/** Polls `check` until it holds or `timeout` ms pass; for states that have no event. */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  timeout = 5_000,
  what = 'condition',
): Promise<void> {
  const deadline = performance.now() + timeout;
  for (;;) {
    if (await check()) return;
    if (performance.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
