import { type DynamicModule, Module } from '@nestjs/common';
import { consoleController } from './redlock-console.controller.js';
import {
  REDLOCK_CONSOLE_OPTIONS,
  type RedlockConsoleOptions,
  resolveConsoleOptions,
} from './redlock-console.options.js';
import { RedlockConsoleService } from './redlock-console.service.js';

/**
 * A web page and JSON API to see and operate the application's locks: held locks with their
 * holders (instance, host, pid, since when), ttls counting down, fencing counters, waiters;
 * node health; recent events; a resource filter; force release. Needs `RedlockModule` (it uses
 * `RedlockService`). Server-rendered page with inline script: nothing to build or serve.
 *
 * Off unless `guard` is given (every route goes through it) or `unsafeAllowUnguarded: true`
 * (local development; force release stays off without a guard). Works on Express and Fastify.
 *
 * Routes under `path`: `GET <path>` the page, `GET <path>/api/state?pattern=order:*` the state
 * as JSON, `POST <path>/api/release` `{ "resource": "order:42" }` with the header
 * `x-redlock-console: 1` (the page sends it; it keeps other sites from posting: CSRF).
 *
 * @example
 * ```ts
 * @Injectable()
 * class OpsTokenGuard implements CanActivate {
 *   canActivate(context: ExecutionContext): boolean {
 *     const request = context.switchToHttp().getRequest<{ query: { token?: string } }>();
 *     return request.query.token === process.env.LOCK_CONSOLE_TOKEN;
 *   }
 * }
 *
 * @Module({
 *   imports: [
 *     RedlockModule.forRoot({ nodes: ['redis://localhost:6379'] }),
 *     RedlockConsoleModule.register({ path: 'ops/locks', guard: OpsTokenGuard }),
 *   ],
 * })
 * export class AppModule {}
 * ```
 */
@Module({})
export class RedlockConsoleModule {
  /** The console at `path`, behind `guard`. @throws RedlockConfigError for invalid options. */
  static register(options: RedlockConsoleOptions): DynamicModule {
    const resolved = resolveConsoleOptions(options);
    return {
      module: RedlockConsoleModule,
      imports: options.imports ?? [],
      controllers: resolved.mounted ? [consoleController(resolved.path, resolved.guard)] : [],
      providers: [{ provide: REDLOCK_CONSOLE_OPTIONS, useValue: resolved }, RedlockConsoleService],
    };
  }
}
