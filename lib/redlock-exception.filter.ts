import { type ArgumentsHost, Catch, type ExceptionFilter, HttpStatus } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { throwError } from 'rxjs';
import { LockNotAcquiredError, RedlockUnavailableError } from './redlock.errors.js';

/**
 * Maps lock errors that reach an HTTP response: busy → 409 Conflict with `Retry-After`,
 * no quorum → 503 Service Unavailable. The body names the resource, never the Redis nodes.
 * Other transports get the error back unchanged. Registered globally by `RedlockModule`.
 */
@Catch(LockNotAcquiredError, RedlockUnavailableError)
export class RedlockExceptionFilter implements ExceptionFilter {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: LockNotAcquiredError | RedlockUnavailableError, host: ArgumentsHost): unknown {
    if (host.getType() !== 'http') return throwError(() => exception);
    const { httpAdapter } = this.adapterHost;
    const response: unknown = host.switchToHttp().getResponse();
    const busy = exception instanceof LockNotAcquiredError;
    const status = busy ? HttpStatus.CONFLICT : HttpStatus.SERVICE_UNAVAILABLE;
    // Seconds, rounded up: the holder's remaining ttl, or a short pause when unknown.
    const retryAfter = busy ? Math.max(1, Math.ceil((exception.retryAfter ?? 1_000) / 1_000)) : 1;
    httpAdapter.setHeader(response, 'Retry-After', String(retryAfter));
    httpAdapter.reply(
      response,
      {
        statusCode: status,
        error: busy ? 'Conflict' : 'Service Unavailable',
        message: busy
          ? `Resource ${exception.resources.join(', ')} is locked; retry later.`
          : 'The lock service is unavailable; retry later.',
        resources: exception.resources,
      },
      status,
    );
    return undefined;
  }
}
