import 'reflect-metadata';
import { Inject, Optional } from '@nestjs/common';
import { COORDINATION, REDLOCK_SERVICE } from '../redlock.constants.js';
import { RedlockError } from '../redlock.errors.js';
import type { JobCoordinator } from '../services/job-coordinator.js';
import type { LeaderElections } from '../services/leader-elections.js';
import { RedlockService } from '../services/redlock.service.js';
import { WITH_LOCK_METHODS } from './with-lock.decorator.js';

/** @internal What `RedlockService[COORDINATION]()` hands to the decorators and the explorer. */
export interface Coordination {
  readonly jobs: JobCoordinator;
  readonly elections: LeaderElections;
}

/**
 * The coordination runtime of the application that created `instance`, reached through the
 * `RedlockService` injected into it. Fails closed: with no service, or a test double of one,
 * it throws rather than let a job run uncoordinated.
 */
export function coordinationOf(instance: unknown, decorator: string, label: string): Coordination {
  const service: unknown = (instance as { [REDLOCK_SERVICE]?: unknown } | undefined)?.[
    REDLOCK_SERVICE
  ];
  if (!service) {
    throw new RedlockError(
      `${decorator} on ${label} has no RedlockService: import RedlockModule.forRoot() in the application ` +
        "(in tests: RedlockTestingModule.forRoot() from 'nestjs-redlock/testing'), and let Nest create the instance.",
    );
  }
  const entry = (service as Partial<Record<typeof COORDINATION, unknown>>)[COORDINATION];
  const coordination: unknown = typeof entry === 'function' ? entry.call(service) : undefined;
  if (typeof (coordination as Partial<Coordination> | undefined)?.jobs?.run !== 'function') {
    throw new RedlockError(
      `${decorator} on ${label} got a RedlockService that cannot take locks (a test double?). ` +
        "In tests, import RedlockTestingModule.forRoot() from 'nestjs-redlock/testing' instead of mocking RedlockService.",
    );
  }
  return coordination as Coordination;
}

/**
 * Lets instances of the class reach their application's `RedlockService`: property injection
 * under a module-private symbol, plus the per-application fallback for instances Nest did not
 * construct (see `WithLockExplorer`).
 */
export function injectService(target: object, propertyKey: string | symbol): void {
  Optional()(target, REDLOCK_SERVICE);
  Inject(RedlockService)(target, REDLOCK_SERVICE);
  const ctor = target.constructor;
  const methods =
    (Reflect.getMetadata(WITH_LOCK_METHODS, ctor) as (string | symbol)[] | undefined) ?? [];
  Reflect.defineMetadata(WITH_LOCK_METHODS, [...methods, propertyKey], ctor);
}

/** Copies every reflect-metadata entry, so decorators applied earlier keep working. */
export function copyMetadata(from: object, to: object): void {
  for (const metadataKey of Reflect.getMetadataKeys(from) as unknown[]) {
    Reflect.defineMetadata(metadataKey, Reflect.getMetadata(metadataKey, from), to);
  }
}
