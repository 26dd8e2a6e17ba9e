import { type ArgumentsHost, Catch } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { throwError } from 'rxjs';
import { setRetryAfter, toHttpException } from './redlock-http.exception.js';
import { RedlockError } from './redlock.errors.js';

/**
 * The safety net behind `RedlockErrorsInterceptor`, for lock errors that never passed through
 * an interceptor (thrown in a guard or a pipe): HTTP answers as the interceptor's (409 +
 * `Retry-After`, 503, 400), anything else as Nest's default filter would. Outside HTTP:
 * - RPC (microservices): the reply is `{ status: 'error', code, message, resources, retryAfter }`;
 * - GraphQL: the error is returned unchanged, so it becomes a field error;
 * - WebSockets: an `exception` event `{ status: 'error', code, message }`, as Nest's own
 *   WebSocket filter sends.
 *
 * Registered globally by `RedlockModule` (unless `httpErrors: false`). Filters registered with
 * `app.useGlobalFilters()` take precedence over it.
 *
 * @example
 * ```ts
 * // With httpErrors: false, register it yourself:
 * app.useGlobalFilters(new RedlockExceptionFilter(app.get(HttpAdapterHost).httpAdapter));
 * ```
 */
@Catch(RedlockError)
export class RedlockExceptionFilter extends BaseExceptionFilter {
  override catch(exception: RedlockError, host: ArgumentsHost): unknown {
    switch (host.getType<string>()) {
      case 'http': {
        const mapped = toHttpException(exception);
        if (mapped) {
          const adapter = this.applicationRef ?? this.httpAdapterHost?.httpAdapter;
          setRetryAfter(adapter, host.switchToHttp().getResponse<unknown>(), mapped);
        }
        return super.catch(mapped ?? exception, host);
      }
      case 'rpc':
        return throwError(() => ({
          status: 'error',
          code: exception.code,
          message: exception.message,
          resources: exception.resources.slice(0, 10),
          retryAfter: 'retryAfter' in exception ? exception.retryAfter : undefined,
        }));
      case 'ws': {
        const client = host.switchToWs().getClient<{ emit?: (...args: unknown[]) => unknown }>();
        client.emit?.('exception', {
          status: 'error',
          code: exception.code,
          message: exception.message,
        });
        return undefined;
      }
      default:
        return exception;
    }
  }
}
