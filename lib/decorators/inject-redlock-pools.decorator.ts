import { Inject } from '@nestjs/common';
import { REDLOCK_POOLS } from '../redlock.constants.js';

/**
 * Injects the node adapters (`LockAdapter[]`), one per configured node, in the order given.
 *
 * @example
 * ```ts
 * constructor(@InjectRedlockPools() private readonly pools: LockAdapter[]) {}
 * ```
 */
export const InjectRedlockPools = (): PropertyDecorator & ParameterDecorator =>
  Inject(REDLOCK_POOLS);
