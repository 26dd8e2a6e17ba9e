import type { CanActivate, ModuleMetadata, Type } from '@nestjs/common';
import { RedlockConfigError } from '../redlock.errors.js';
import { describe } from '../services/lock-options.js';

/**
 * Options of `RedlockConsoleModule.register()`.
 *
 * @example
 * ```ts
 * RedlockConsoleModule.register({ path: 'ops/locks', guard: OpsTokenGuard });
 * ```
 */
export interface RedlockConsoleOptions {
  /** Where the page is served (`'ops/locks'`); its JSON API lives under `<path>/api`. */
  path: string;
  /**
   * A Nest guard (a `CanActivate` class or instance) that every console route goes through, the
   * page included. Without one the console is not mounted, unless `unsafeAllowUnguarded`.
   */
  guard?: Type<CanActivate> | CanActivate;
  /**
   * Mount the console without a guard, for local development only: anyone who reaches the
   * server sees every lock. Force release stays off without a guard.
   * @default false
   */
  unsafeAllowUnguarded?: boolean;
  /**
   * Who a force release is attributed to, from the request your guard let through.
   * @default the `username`, `name`, `email`, `id` or `sub` of `request.user`, else 'anonymous'
   */
  identify?: (request: unknown) => string | undefined;
  /**
   * How many recent lock events the page shows.
   * @default 100
   */
  events?: number;
  /**
   * How often the page asks for fresh state, in ms (ttls count down in the page in between).
   * @default 2_000
   */
  refreshInterval?: number;
  /** Modules providing what a guard class injects. */
  imports?: ModuleMetadata['imports'];
}

/** The options after validation. */
export interface ResolvedConsoleOptions {
  /** Without leading or trailing slashes. */
  readonly path: string;
  readonly guard: Type<CanActivate> | CanActivate | undefined;
  /** Whether routes are mounted at all. */
  readonly mounted: boolean;
  readonly identify: (request: unknown) => string;
  readonly events: number;
  readonly refreshInterval: number;
}

/** Injection token of {@link ResolvedConsoleOptions}. */
export const REDLOCK_CONSOLE_OPTIONS = Symbol('REDLOCK_CONSOLE_OPTIONS');

export function resolveConsoleOptions(options: RedlockConsoleOptions): ResolvedConsoleOptions {
  if (typeof options !== 'object' || options === null) {
    throw new RedlockConfigError('options', `expected { path, guard }, got ${describe(options)}`);
  }
  const path = typeof options.path === 'string' ? options.path.replace(/^\/+|\/+$/g, '') : '';
  if (!/^[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/.test(path)) {
    throw new RedlockConfigError(
      'path',
      `expected a URL path of letters, digits, '-', '_', '.', '~' and '/', got ${describe(options.path)}`,
    );
  }
  const { guard, unsafeAllowUnguarded = false, events = 100, refreshInterval = 2_000 } = options;
  if (
    guard !== undefined &&
    typeof guard !== 'function' &&
    typeof guard?.canActivate !== 'function'
  ) {
    throw new RedlockConfigError(
      'guard',
      `expected a CanActivate class or instance, got ${describe(guard)}`,
    );
  }
  if (typeof unsafeAllowUnguarded !== 'boolean') {
    throw new RedlockConfigError(
      'unsafeAllowUnguarded',
      `expected true or false, got ${describe(unsafeAllowUnguarded)}`,
    );
  }
  if (!Number.isSafeInteger(events) || events < 1 || events > 10_000) {
    throw new RedlockConfigError(
      'events',
      `expected a whole number from 1 to 10000, got ${describe(events)}`,
    );
  }
  if (!Number.isSafeInteger(refreshInterval) || refreshInterval < 250) {
    throw new RedlockConfigError(
      'refreshInterval',
      `expected whole ms >= 250, got ${describe(refreshInterval)}`,
    );
  }
  if (options.identify !== undefined && typeof options.identify !== 'function') {
    throw new RedlockConfigError(
      'identify',
      `expected a function, got ${describe(options.identify)}`,
    );
  }
  const custom = options.identify;
  return {
    path,
    guard,
    mounted: guard !== undefined || unsafeAllowUnguarded,
    identify: (request) => custom?.(request) ?? userOf(request) ?? 'anonymous',
    events,
    refreshInterval,
  };
}

/** The name of `request.user`, as Passport and most auth guards leave it. */
function userOf(request: unknown): string | undefined {
  const user = (request as { user?: Record<string, unknown> } | null)?.user;
  if (typeof user !== 'object' || user === null) return undefined;
  for (const field of ['username', 'name', 'email', 'id', 'sub']) {
    const value = user[field];
    if (typeof value === 'string' || typeof value === 'number') return String(value);
  }
  return undefined;
}
