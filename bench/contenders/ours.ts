/**
 * Ours, three ways: `RedlockService` from a Nest application context (the headline: how users
 * call it), the same service through `using`, and the bare engine without Nest (a secondary
 * row that shows what the module layer costs).
 */
import 'reflect-metadata';
import { type DynamicModule, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  createLockAdapter,
  type Lock,
  Redlock,
  type RedlockEvent,
  RedlockModule,
  RedlockService,
} from '../../lib/index.js';
import type { Contender, ContenderSettings } from '../core/contenders.js';

@Module({})
class BenchAppModule {
  static register(
    nodes: readonly string[],
    onEvent: ((event: RedlockEvent) => void) | undefined,
    handOff: boolean,
  ): DynamicModule {
    // Only `nodes`, as in the README; `onEvent` only where the hot key reports attempts, and
    // `handOff: false` only for the row that shows what hand-offs change.
    const options = {
      nodes: [...nodes],
      ...(onEvent ? { onEvent } : {}),
      ...(handOff ? {} : { handOff: false as const }),
    };
    return { module: BenchAppModule, imports: [RedlockModule.forRoot(options)] };
  }
}

/** Counts attempts per acquisition from `acquired` events (hot key only: it costs a call). */
function attemptCounter(): {
  onEvent: (event: RedlockEvent) => void;
  read: () => { acquisitions: number; attempts: number };
} {
  let acquisitions = 0;
  let attempts = 0;
  return {
    onEvent: (event) => {
      if (event.type !== 'acquired') return;
      acquisitions += 1;
      attempts += event.attempts;
    },
    read: () => ({ acquisitions, attempts }),
  };
}

export async function createOurs(
  id: 'ours' | 'ours-using' | 'ours-engine' | 'ours-no-hand-off',
  urls: readonly string[],
  settings: ContenderSettings,
): Promise<Contender<Lock>> {
  const { ttl, waitMs } = settings;
  const contended = settings.mode === 'contended';
  const counter = contended ? attemptCounter() : undefined;
  const options = contended ? { ttl, wait: waitMs } : { ttl };

  if (id === 'ours-engine') {
    const adapters = urls.map((url) => createLockAdapter(url));
    await Promise.all(adapters.map((adapter) => adapter.ready?.(5_000) ?? Promise.resolve()));
    const engine = new Redlock(adapters, counter ? { onEvent: counter.onEvent } : {});
    return {
      id,
      nodes: urls.length,
      acquire: contended
        ? (resource, signal) => engine.acquire(resource, { ...options, signal })
        : (resource) => engine.acquire(resource, options),
      release: (lock) => lock.release(),
      attempts: counter?.read,
      close: async () => {
        await engine.close();
        await Promise.all(adapters.map((adapter) => adapter.close()));
      },
    };
  }

  // `logger: false` on the context only silences Nest's own start-up lines.
  const app = await NestFactory.createApplicationContext(
    BenchAppModule.register(urls, counter?.onEvent, id !== 'ours-no-hand-off'),
    { logger: false },
  );
  const service = app.get(RedlockService);
  const noop = (): undefined => undefined;
  return {
    id,
    nodes: urls.length,
    acquire: contended
      ? (resource, signal) => service.acquire(resource, { ...options, signal })
      : (resource) => service.acquire(resource, options),
    release: (lock) => lock.release(),
    cycle:
      id === 'ours-using'
        ? async (resource) => {
            await service.using(resource, noop, options);
          }
        : undefined,
    attempts: counter?.read,
    close: () => app.close(),
  };
}
