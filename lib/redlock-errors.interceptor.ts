import {
  type CallHandler,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
  Optional,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { catchError, type Observable, throwError } from 'rxjs';
import { setRetryAfter, toHttpException } from './redlock-http.exception.js';
import { TRACK_RESPONSE } from './redlock.constants.js';
import { RedlockService } from './services/redlock.service.js';

/**
 * Turns lock errors thrown by HTTP handlers into `RedlockHttpException`s (409 + `Retry-After`,
 * 503, 400; see `toHttpException`) before any exception filter sees them, and sets
 * `Retry-After` on the response. A filter therefore only has to understand Nest's
 * `HttpException`, which the default filter and every filter extending `BaseExceptionFilter`
 * do; this is what keeps a catch-all `AllExceptionsFilter` from answering 500 for a busy lock.
 * Registered globally by `RedlockModule` (unless `httpErrors: false`); other contexts (RPC,
 * WebSockets, GraphQL) pass through untouched.
 *
 * @example
 * ```ts
 * // With httpErrors: false, apply it where you want the mapping:
 * @UseInterceptors(RedlockErrorsInterceptor)
 * @Controller('orders')
 * export class OrdersController {}
 * ```
 */
@Injectable()
export class RedlockErrorsInterceptor implements NestInterceptor {
  constructor(
    @Optional() private readonly adapterHost?: HttpAdapterHost,
    @Optional() private readonly redlock?: RedlockService,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    // Shutdown lets this response go out before the HTTP server closes (see
    // RedlockService.beforeApplicationShutdown).
    this.redlock?.[TRACK_RESPONSE](context.switchToHttp().getResponse<unknown>());
    return next.handle().pipe(
      catchError((error: unknown) => {
        const mapped = toHttpException(error);
        if (!mapped) return throwError(() => error);
        setRetryAfter(
          this.adapterHost?.httpAdapter,
          context.switchToHttp().getResponse<unknown>(),
          mapped,
        );
        return throwError(() => mapped);
      }),
    );
  }
}
