import type { LockAdapter } from '../../lib/interfaces/lock-adapter.interface.js';

/**
 * Wraps a lock adapter so a test can watch or tamper with its calls: every method call goes
 * through `around(method, call, args)`, which may count it, delay it, change its reply, throw
 * synchronously or never settle. Properties (`name`, capability objects) pass through.
 *
 * A Proxy rather than a class, so the wrapper keeps working whatever methods the adapter
 * contract has (the regression tests run against more than one version of it).
 */
export function tapAdapter(
  inner: LockAdapter,
  around: (method: string, call: () => unknown, args: readonly unknown[]) => unknown,
): LockAdapter {
  return new Proxy(inner, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      const method = value as (...args: unknown[]) => unknown;
      // Bound to the real adapter: its private fields are not reachable through the proxy.
      return (...args: unknown[]) => around(property, () => method.apply(target, args), args);
    },
  });
}
