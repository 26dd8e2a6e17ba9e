import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { REDLOCK_SERVICE } from '../redlock.constants.js';
import { RedlockService } from '../services/redlock.service.js';
import { WITH_LOCK_METHODS } from './with-lock.decorator.js';

/**
 * The per-application fallback of `@WithLock`: instances Nest did not construct itself (factory
 * and value providers) get no property injection, so this hands them this application's
 * `RedlockService` at startup. Instances that already have one keep it.
 */
@Injectable()
export class WithLockExplorer implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly service: RedlockService,
  ) {}

  onModuleInit(): void {
    const wrappers = [...this.discovery.getProviders(), ...this.discovery.getControllers()];
    for (const wrapper of wrappers) {
      if (!wrapper.isDependencyTreeStatic() || wrapper.isTransient) continue;
      const instance: unknown = wrapper.instance;
      if (typeof instance !== 'object' || instance === null) continue;
      if (!Reflect.getMetadata(WITH_LOCK_METHODS, instance.constructor)) continue;
      const holder = instance as { [REDLOCK_SERVICE]?: RedlockService };
      if (holder[REDLOCK_SERVICE]) continue;
      Object.defineProperty(holder, REDLOCK_SERVICE, {
        value: this.service,
        configurable: true,
        writable: true,
        enumerable: false,
      });
    }
  }
}
