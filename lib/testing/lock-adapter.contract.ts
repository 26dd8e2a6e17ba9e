import { randomBytes } from 'node:crypto';
import {
  type ContractContext,
  type ContractTestFunctions,
  type LockAdapterContractOptions,
  type LockAdapterContractTarget,
} from './contract-support.js';
import { exclusiveLockContract } from './exclusive-locks.contract.js';
import { fencingContract } from './fencing.contract.js';
import { handOffContract } from './hand-off.contract.js';
import { notificationContract } from './notifications.contract.js';
import { sharedLockContract } from './shared-locks.contract.js';

export type { ContractTestFunctions, LockAdapterContractOptions, LockAdapterContractTarget };

/**
 * The promises every `LockAdapter` must keep (see the interface's documentation), as a
 * test suite a backend author runs against their store: atomic all-or-nothing calls, replays
 * answered like the original, compare-and-set on the owner value, extend-or-repair, fencing
 * counters that only go up and never expire, read locks, hand-offs, release notifications, and
 * a bounded `close()`.
 *
 * The suite imports no test framework: pass your runner's functions. `setup` is called once for
 * the suite (and again by the tests that close what they use) and returns two clients of one
 * store. Keys carry a random per-test hash tag, so suites can share a server and, on a Redis
 * Cluster, multi-key calls stay in one slot.
 *
 * @example
 * ```ts
 * import { afterAll, beforeAll, beforeEach, describe, it } from 'vitest'; // or '@jest/globals'
 * import { describeLockAdapterContract } from 'nestjs-redlock/testing';
 *
 * describeLockAdapterContract(
 *   'my store',
 *   async () => {
 *     const [adapter, other] = [new MyStoreAdapter(url), new MyStoreAdapter(url)];
 *     return { adapter, other, teardown: async () => { await adapter.close(); await other.close(); } };
 *   },
 *   { describe, it, beforeAll, afterAll, beforeEach },
 *   { shared: false, handOff: false },
 * );
 * ```
 */
export function describeLockAdapterContract(
  label: string,
  setup: () => Promise<LockAdapterContractTarget>,
  test: ContractTestFunctions,
  options: LockAdapterContractOptions = {},
): void {
  const { shared = true, fencing = true, handOff = true } = options;
  const { describe, beforeAll, afterAll, beforeEach } = test;

  describe(`LockAdapter contract: ${label}`, () => {
    let target: LockAdapterContractTarget | undefined;
    let run = '';
    const context: ContractContext = {
      get target() {
        if (!target) throw new Error('the contract setup did not complete');
        return target;
      },
      get adapter() {
        return context.target.adapter;
      },
      get other() {
        return context.target.other;
      },
      setup,
      // The hash tag keeps every key of a test in one Cluster slot, so multi-key calls are legal.
      key: (name) => `contract:{${run}}:${name}`,
    };

    beforeAll(async () => {
      target = await setup();
    });

    afterAll(async () => {
      await target?.teardown();
    });

    beforeEach(() => {
      run = randomBytes(6).toString('hex');
    });

    exclusiveLockContract(context, test);
    if (fencing) fencingContract(context, test);
    if (shared) sharedLockContract(context, test, { fencing });
    else {
      test.it('declares that it has no read locks', () => {
        if (context.adapter.shared !== undefined) {
          throw new Error('adapter.shared is set: run the suite with { shared: true }');
        }
        return Promise.resolve();
      });
    }
    if (handOff) handOffContract(context, test, { shared });
    else {
      test.it('declares that it has no hand-off', () => {
        if (context.adapter.handOff !== undefined) {
          throw new Error('adapter.handOff is set: run the suite with { handOff: true }');
        }
        return Promise.resolve();
      });
    }
    notificationContract(context, test);
  });
}
