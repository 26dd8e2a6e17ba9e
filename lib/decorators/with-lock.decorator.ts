import 'reflect-metadata';
import { Inject, Optional } from '@nestjs/common';
import { from, isObservable, Observable, type Subscription } from 'rxjs';
import type { LockOptions } from '../interfaces/lock-options.interface.js';
import { COORDINATION, REDLOCK_SERVICE, WITH_LOCK_ENTER } from '../redlock.constants.js';
import { LockNotAcquiredError, RedlockConfigError, RedlockError } from '../redlock.errors.js';
import { publishBusySkip } from '../observability/diagnostics-publisher.js';
import {
  DEFAULT_LOCK_OPTIONS,
  MAX_TTL,
  describe,
  resolveLockOptions,
} from '../services/lock-options.js';
import { type Duration, durationMs } from '../services/duration.js';
import type { LockScope } from '../services/redlock.engine.js';
import { RedlockService } from '../services/redlock.service.js';
import { DEFAULT_TICK_TOLERANCE } from '../services/tick-claims.js';
import { compileKey, type LockKey } from './key-template.js';
import { recordKeySite } from './key-sites.js';
import { isCronMethod } from './schedule-metadata.js';

/** Options of `@WithLock`: `LockOptions` over the module's defaults, plus what to do when busy. */
export interface WithLockOptions extends LockOptions {
  /**
   * `'throw'` rejects with `LockNotAcquiredError` (HTTP 409 on controllers); `'skip'` resolves
   * to `undefined` without running the method, the scheduled-job case. With `'skip'` and no
   * explicit `wait`, a single attempt is made.
   * @default 'throw'
   */
  onBusy?: 'throw' | 'skip';
  /**
   * With `onBusy: 'skip'` on a `@Cron` method: the largest difference between the instances'
   * clocks under which each tick still runs exactly once (each run first claims its tick; see
   * the README, "Exactly once per tick"). `0` turns the claims off.
   * @default '1s'
   */
  tickTolerance?: Duration;
}

/** @internal Method names of a class that carry `@WithLock`, for the per-app fallback. */
export const WITH_LOCK_METHODS = Symbol('WITH_LOCK_METHODS');

type Instance = { [REDLOCK_SERVICE]?: RedlockService } | undefined;

/**
 * Runs the method only while holding a distributed lock on the key, released when it settles.
 * `<0>` is the method's first argument as the method receives it (on controllers: after pipes),
 * `<1.user.id>` a property path; an array locks every key all or nothing; a function of the
 * arguments returns the key(s). The lease extends itself while the method runs.
 *
 * @example
 * ```ts
 * @Post(':id/pay')
 * @WithLock('order:<0>', { ttl: 5_000 })
 * pay(@Param('id', ParseIntPipe) id: number) { ... }
 *
 * @Cron('0 * * * *')
 * @WithLock('jobs:hourly-report', { onBusy: 'skip' })
 * hourlyReport() { ... }
 * ```
 */
export function WithLock(key: LockKey, options: WithLockOptions = {}): MethodDecorator {
  const resolveKey = compileKey(key);
  const { onBusy = 'throw', tickTolerance = DEFAULT_TICK_TOLERANCE, ...lockOptions } = options;
  if (onBusy !== 'throw' && onBusy !== 'skip') {
    throw new RedlockConfigError('onBusy', `expected 'throw' or 'skip', got ${describe(onBusy)}`);
  }
  const tolerance = durationMs(tickTolerance, '@WithLock.tickTolerance');
  if (!Number.isInteger(tolerance) || tolerance < 0 || tolerance > 3_600_000) {
    throw new RedlockConfigError(
      '@WithLock.tickTolerance',
      `expected whole milliseconds from 0 to 1 hour or a duration such as '2s', got ${describe(tickTolerance)}`,
    );
  }
  // Checked now so a bad value fails at startup; the module's defaults fill the rest per call.
  resolveLockOptions({ ...DEFAULT_LOCK_OPTIONS, ttl: MAX_TTL }, lockOptions, '@WithLock');
  const skip = onBusy === 'skip';
  const callOptions: LockOptions =
    skip && lockOptions.wait === undefined ? { ...lockOptions, wait: 0 } : lockOptions;

  return (target, propertyKey, descriptor) => {
    const original: unknown = descriptor.value;
    const label = `${target.constructor.name}.${String(propertyKey)}`;
    if (typeof original !== 'function') {
      throw new RedlockConfigError('@WithLock', `${label} is not a method`);
    }
    const declaresObservable =
      Reflect.getMetadata('design:returntype', target, propertyKey) === Observable;

    const wrapper = function (this: Instance, ...args: unknown[]): unknown {
      const invoke = (): unknown => (original as (...a: unknown[]) => unknown).apply(this, args);
      // A skipped cron tick must not run again on an instance whose clock lags: claim it first.
      const tick =
        skip && tolerance > 0 && isCronMethod(this, propertyKey, wrapper) ? tolerance : 0;
      if (declaresObservable) {
        return new Observable<unknown>((subscriber) => {
          let inner: Subscription | undefined;
          let closed = false;
          enter(this, label, resolveKey, args, callOptions, skip, tick).then(
            (scope) => {
              if (!scope) return subscriber.complete();
              if (closed) return void scope.exit();
              inner = holdWhileRunning(
                from(scope.run(invoke) as Observable<unknown>),
                scope,
              ).subscribe(subscriber);
            },
            (error: unknown) => subscriber.error(error),
          );
          return () => {
            closed = true;
            inner?.unsubscribe();
          };
        });
      }
      return runLocked(this, label, resolveKey, args, callOptions, skip, tick, invoke);
    };

    copyMetadata(original, wrapper);
    Object.defineProperty(wrapper, 'name', { value: original.name, configurable: true });
    descriptor.value = wrapper as typeof descriptor.value;

    // Each instance reaches its own application's service: no state shared between apps.
    Optional()(target, REDLOCK_SERVICE);
    Inject(RedlockService)(target, REDLOCK_SERVICE);
    const ctor = target.constructor;
    const methods =
      (Reflect.getMetadata(WITH_LOCK_METHODS, ctor) as (string | symbol)[] | undefined) ?? [];
    Reflect.defineMetadata(WITH_LOCK_METHODS, [...methods, propertyKey], ctor);
    recordKeySite(ctor, { kind: 'lock', decorator: '@WithLock', where: label, key });
  };
}

/** Acquires for one call, or resolves `undefined` when busy and `onBusy` is `'skip'`. */
async function enter(
  instance: Instance,
  label: string,
  resolveKey: (args: readonly unknown[]) => string[],
  args: readonly unknown[],
  options: LockOptions,
  skip: boolean,
  tick: number,
): Promise<LockScope | undefined> {
  const service: unknown = instance?.[REDLOCK_SERVICE];
  // Fail closed: never run the method unlocked, whatever was injected.
  if (!service) {
    throw new RedlockError(
      `@WithLock on ${label} has no RedlockService: import RedlockModule.forRoot() in the application ` +
        "(in tests: RedlockTestingModule.forRoot() from 'nestjs-redlock/testing'), and let Nest create the instance.",
    );
  }
  const entry = (service as Partial<Record<typeof WITH_LOCK_ENTER, unknown>>)[WITH_LOCK_ENTER];
  const mocked = (): RedlockError =>
    new RedlockError(
      `@WithLock on ${label} got a RedlockService that cannot take locks (a test double such as ` +
        '{ provide: RedlockService, useValue: {} }?). Locked methods never run unlocked: in tests, import ' +
        "RedlockTestingModule.forRoot() from 'nestjs-redlock/testing' for real in-memory locks instead of mocking RedlockService.",
    );
  if (typeof entry !== 'function') throw mocked();
  const resources = resolveKey(args);
  if (tick > 0) {
    const coordination = (service as Partial<RedlockService>)[COORDINATION];
    if (typeof coordination !== 'function') throw mocked();
    const claimed = await coordination.call(service).jobs.ticks.claim(resources, tick, label);
    if (!claimed) return undefined;
  }
  try {
    const scope: unknown = await (entry as RedlockService[typeof WITH_LOCK_ENTER]).call(
      service,
      resources,
      options,
    );
    // An auto-mock answers every property with a function that returns nothing.
    if (typeof (scope as Partial<LockScope> | undefined)?.run !== 'function') throw mocked();
    return scope as LockScope;
  } catch (error) {
    if (skip && error instanceof LockNotAcquiredError) {
      publishBusySkip(error, label);
      return undefined;
    }
    throw error;
  }
}

async function runLocked(
  instance: Instance,
  label: string,
  resolveKey: (args: readonly unknown[]) => string[],
  args: readonly unknown[],
  options: LockOptions,
  skip: boolean,
  tick: number,
  invoke: () => unknown,
): Promise<unknown> {
  const scope = await enter(instance, label, resolveKey, args, options, skip, tick);
  if (!scope) return undefined;
  let result: unknown;
  try {
    result = await scope.run(invoke);
  } catch (error) {
    await scope.exit();
    throw error;
  }
  // An Observable does its work when subscribed: keep the lock until it finishes.
  if (isObservable(result)) return holdWhileRunning(result, scope);
  await scope.exit();
  scope.throwIfLost();
  return result;
}

/** Releases when the stream completes, errors or is unsubscribed; errors it if the lock is lost. */
function holdWhileRunning<T>(source: Observable<T>, scope: LockScope): Observable<T> {
  return new Observable<T>((subscriber) => {
    const onLost = (): void => {
      const reason: unknown = scope.lock.signal.reason;
      if (reason instanceof RedlockError) subscriber.error(reason);
    };
    scope.lock.signal.addEventListener('abort', onLost, { once: true });
    const inner = scope.run(() => source.subscribe(subscriber));
    return () => {
      scope.lock.signal.removeEventListener('abort', onLost);
      inner.unsubscribe();
      void scope.exit();
    };
  });
}

/** Copies every reflect-metadata entry, so decorators applied earlier keep working. */
function copyMetadata(from: object, to: object): void {
  for (const metadataKey of Reflect.getMetadataKeys(from) as unknown[]) {
    Reflect.defineMetadata(metadataKey, Reflect.getMetadata(metadataKey, from), to);
  }
}
