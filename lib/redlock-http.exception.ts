import { HttpException, type HttpServer, HttpStatus } from '@nestjs/common';
import { listForMessage, truncate } from './redaction.js';
import {
  LockKeyError,
  LockNotAcquiredError,
  RedlockConfigError,
  type RedlockError,
  RedlockUnavailableError,
} from './redlock.errors.js';

/** Resources listed in an HTTP body at most; the error itself keeps them all. */
const MAX_BODY_RESOURCES = 10;

/** The JSON body of a lock error's HTTP answer. */
export interface RedlockHttpBody {
  statusCode: number;
  error: string;
  message: string;
  /** The error's `code`, e.g. `ERR_REDLOCK_BUSY` or `ERR_REDLOCK_KEY_TOO_LONG`. */
  code: string;
  /** The resources the call was about (the first 10); never node addresses. */
  resources: string[];
}

/**
 * A lock error as an `HttpException`, so every exception filter that understands Nest's HTTP
 * exceptions (the default one, and yours when it extends `BaseExceptionFilter` or reads
 * `getStatus()`) answers with the right status. `cause` is the original `RedlockError`;
 * `retryAfter` the seconds sent in the `Retry-After` header.
 *
 * @example
 * ```ts
 * @Catch(RedlockHttpException)
 * export class LockErrorsFilter implements ExceptionFilter {
 *   catch(exception: RedlockHttpException, host: ArgumentsHost) {
 *     metrics.count(exception.lockError.code);
 *     // ...answer as your API does
 *   }
 * }
 * ```
 */
export class RedlockHttpException extends HttpException {
  /** Seconds a client should wait before retrying (the `Retry-After` header), when it applies. */
  readonly retryAfter: number | undefined;

  constructor(
    /** The lock error this answer stands for. */
    readonly lockError: RedlockError,
    status: number,
    body: RedlockHttpBody,
    retryAfter?: number,
  ) {
    super(body, status, { cause: lockError });
    this.retryAfter = retryAfter;
  }
}

/**
 * The HTTP answer of a lock error, or `undefined` for errors that are the server's own fault
 * (a lost lock, an engine misuse): those stay 500s.
 *
 * - `LockNotAcquiredError` (busy): 409 with `Retry-After` = the holder's remaining time in
 *   seconds, rounded up (1 when the nodes did not say).
 * - `RedlockUnavailableError` (no quorum, or shutting down): 503 with `Retry-After: 1`.
 * - `LockKeyError` at request time: 400. Keys are built from the request (route params, body),
 *   so a key that cannot be a key (too long, unresolved placeholder, a key function returning
 *   nothing usable) is the client's input; malformed templates fail at startup instead.
 * - `RedlockConfigError` at request time: 400. Module options are checked at startup, so one
 *   raised while serving a request comes from per-call options, typically taken from input.
 */
export function toHttpException(error: unknown): RedlockHttpException | undefined {
  if (error instanceof LockNotAcquiredError) {
    const seconds = Math.max(1, Math.ceil((error.retryAfter ?? 1_000) / 1_000));
    return new RedlockHttpException(
      error,
      HttpStatus.CONFLICT,
      body(
        error,
        HttpStatus.CONFLICT,
        'Conflict',
        `Resource ${listForMessage(error.resources, 3)} is locked; retry later.`,
      ),
      seconds,
    );
  }
  if (error instanceof RedlockUnavailableError) {
    return new RedlockHttpException(
      error,
      HttpStatus.SERVICE_UNAVAILABLE,
      body(
        error,
        HttpStatus.SERVICE_UNAVAILABLE,
        'Service Unavailable',
        'The lock service is unavailable; retry later.',
      ),
      1,
    );
  }
  if (error instanceof LockKeyError || error instanceof RedlockConfigError) {
    return new RedlockHttpException(
      error,
      HttpStatus.BAD_REQUEST,
      body(error, HttpStatus.BAD_REQUEST, 'Bad Request', truncate(error.message, 300)),
    );
  }
  return undefined;
}

function body(
  error: RedlockError,
  statusCode: number,
  reason: string,
  message: string,
): RedlockHttpBody {
  return {
    statusCode,
    error: reason,
    message,
    code: error.code,
    resources: error.resources.slice(0, MAX_BODY_RESOURCES).map((name) => truncate(name, 200)),
  };
}

/** Sets `Retry-After` on the response unless it is already on its way. */
export function setRetryAfter(
  adapter: Pick<HttpServer, 'setHeader' | 'isHeadersSent'> | undefined,
  response: unknown,
  exception: RedlockHttpException,
): void {
  if (!adapter || exception.retryAfter === undefined || response == null) return;
  if (adapter.isHeadersSent(response)) return;
  adapter.setHeader(response, 'Retry-After', String(exception.retryAfter));
}
