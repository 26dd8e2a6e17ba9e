import 'reflect-metadata';
import type { LockOptions } from '../interfaces/lock-options.interface.js';
import { RedlockConfigError } from '../redlock.errors.js';
import { type Duration, durationMs } from '../services/duration.js';
import type { JobKind } from '../services/job-coordinator.js';
import {
  DEFAULT_LOCK_OPTIONS,
  MAX_TTL,
  describe,
  resolveLockOptions,
} from '../services/lock-options.js';
import { DEFAULT_TICK_TOLERANCE } from '../services/tick-claims.js';
import { coordinationOf, copyMetadata, injectService } from './coordination-access.js';
import { recordKeySite } from './key-sites.js';
import { isCronMethod } from './schedule-metadata.js';
import { rejection } from '../services/rejection.js';

/** Options every scheduled-job decorator takes. */
export interface ScheduledJobOptions {
  /**
   * The job's lock resource (the Redis key is `keyPrefix` + this). Give one when the class name
   * is not stable (minified bundles) or two classes share a name.
   * @default 'jobs:<ClassName>.<methodName>'
   */
  key?: string;
  /**
   * For `@Cron` methods: the largest difference between the instances' clocks under which each
   * tick still runs exactly once. Each run claims its tick in a key that lives this long plus
   * 1 s (see the README, "Exactly once per tick"); `0` turns the claims off.
   * @default '1s'
   */
  tickTolerance?: Duration;
}

/** Marks a method already wrapped by a scheduled-job decorator. */
const JOB_DECORATOR = Symbol('nestjs-redlock:job-decorator');

/** @internal The decorator behind `@OnOneInstance` and `@WithoutOverlapping`. */
export function scheduledJob(
  decorator: string,
  kind: JobKind,
  options: ScheduledJobOptions & LockOptions,
  lockKeys: readonly string[],
): MethodDecorator {
  if (typeof options !== 'object' || options === null) {
    throw new RedlockConfigError(decorator, `expected an options object, got ${describe(options)}`);
  }
  const { key, tickTolerance = DEFAULT_TICK_TOLERANCE, ...rest } = options;
  if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.includes('<'))) {
    throw new RedlockConfigError(
      `${decorator}.key`,
      `expected a non-empty resource name without placeholders, got ${describe(key)}`,
    );
  }
  const tolerance = durationMs(tickTolerance, `${decorator}.tickTolerance`);
  if (!Number.isInteger(tolerance) || tolerance < 0 || tolerance > 3_600_000) {
    throw new RedlockConfigError(
      `${decorator}.tickTolerance`,
      `expected whole milliseconds from 0 to 1 hour or a duration such as '2s', got ${describe(tickTolerance)}`,
    );
  }
  const lockOptions: LockOptions = {};
  for (const [name, value] of Object.entries(rest)) {
    if (!lockKeys.includes(name)) {
      throw new RedlockConfigError(
        `${decorator}.${name}`,
        `unknown option; ${decorator} takes key, tickTolerance${lockKeys.length ? `, ${lockKeys.join(', ')}` : ''}`,
      );
    }
    (lockOptions as Record<string, unknown>)[name] = value;
  }
  // Checked now so a bad value fails at startup; the module's defaults fill the rest per run.
  resolveLockOptions({ ...DEFAULT_LOCK_OPTIONS, ttl: MAX_TTL }, lockOptions, decorator);

  return (target, propertyKey, descriptor) => {
    const original: unknown = descriptor.value;
    const label = `${target.constructor.name}.${String(propertyKey)}`;
    if (typeof original !== 'function') {
      throw new RedlockConfigError(decorator, `${label} is not a method`);
    }
    const other = Reflect.getMetadata(JOB_DECORATOR, original) as string | undefined;
    if (other) {
      throw new RedlockConfigError(
        decorator,
        `${label} already has ${other}; use one of @OnOneInstance and @WithoutOverlapping per method`,
      );
    }
    const resource = key ?? `jobs:${label}`;
    const wrapper = function (this: unknown, ...args: unknown[]): Promise<unknown> {
      try {
        const { jobs } = coordinationOf(this, decorator, label);
        const cron = isCronMethod(this as object | undefined, propertyKey, wrapper);
        return jobs.run(
          { kind, label, resource, options: lockOptions, tickTolerance: cron ? tolerance : 0 },
          () => (original as (...a: unknown[]) => unknown).apply(this, args),
        );
      } catch (error) {
        return rejection(error);
      }
    };
    copyMetadata(original, wrapper);
    Reflect.defineMetadata(JOB_DECORATOR, decorator, wrapper);
    Object.defineProperty(wrapper, 'name', { value: original.name, configurable: true });
    descriptor.value = wrapper as typeof descriptor.value;
    injectService(target, propertyKey);
    recordKeySite(target.constructor, { kind: 'job', decorator, where: label, key: resource });
  };
}
