// nestjs-redlock/testing: in-memory locks for your app's tests, and the contract suite for
// authors of lock backends. Exported names only; nothing here is loaded by the main entry.
export {
  RedlockTestingModule,
  type RedlockTestingModuleOptions,
} from './redlock-testing.module.js';
export { ManualClock } from '../services/clock.js';
export { MemoryLockAdapter, type MemoryLockAdapterOptions } from '../adapters/memory.adapter.js';
export { describeLockAdapterContract } from './lock-adapter.contract.js';
export type { ContractTestFunctions, LockAdapterContractTarget } from './contract-support.js';
