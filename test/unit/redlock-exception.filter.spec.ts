import 'reflect-metadata';
import { describe, expect, it } from '@jest/globals';
import type { ArgumentsHost } from '@nestjs/common';
import { lastValueFrom, type Observable } from 'rxjs';
import {
  LockLostError,
  LockNotAcquiredError,
  RedlockExceptionFilter,
  RedlockHttpException,
  toHttpException,
} from '../../lib/index.js';

/** An ArgumentsHost of the given context type; `client` is the WebSocket client. */
function host(type: string, client?: unknown): ArgumentsHost {
  return {
    getType: () => type,
    switchToWs: () => ({ getClient: () => client, getData: () => undefined }),
    getArgs: () => [],
    getArgByIndex: () => undefined,
  } as unknown as ArgumentsHost;
}

const busy = () =>
  new LockNotAcquiredError('Resource order:1 is locked.', {
    resources: ['order:1'],
    retryAfter: 1_500,
  });

describe('RedlockExceptionFilter outside HTTP', () => {
  const filter = new RedlockExceptionFilter();

  it('RPC: replies with an error carrying the code, resources and retryAfter', async () => {
    const reply = filter.catch(busy(), host('rpc')) as Observable<never>;
    await expect(lastValueFrom(reply)).rejects.toEqual({
      status: 'error',
      code: 'ERR_REDLOCK_BUSY',
      message: 'Resource order:1 is locked.',
      resources: ['order:1'],
      retryAfter: 1_500,
    });
  });

  it('GraphQL: returns the error itself, so it becomes a field error', () => {
    const error = busy();
    expect(filter.catch(error, host('graphql'))).toBe(error);
  });

  it("WebSockets: emits an 'exception' event to the client", () => {
    const emitted: unknown[][] = [];
    filter.catch(busy(), host('ws', { emit: (...args: unknown[]) => emitted.push(args) }));
    expect(emitted).toEqual([
      [
        'exception',
        { status: 'error', code: 'ERR_REDLOCK_BUSY', message: 'Resource order:1 is locked.' },
      ],
    ]);
  });
});

describe('toHttpException', () => {
  it("rounds the holder's remaining time up to whole seconds, at least 1", () => {
    for (const [retryAfter, seconds] of [
      [1_500, 2],
      [500, 1],
      [0, 1],
      [undefined, 1],
      [10_000, 10],
    ] as const) {
      const error = new LockNotAcquiredError('busy', { resources: ['x'], retryAfter });
      const mapped = toHttpException(error)!;
      expect(mapped).toBeInstanceOf(RedlockHttpException);
      expect(mapped.getStatus()).toBe(409);
      expect(mapped.retryAfter).toBe(seconds);
      expect(mapped.cause).toBe(error);
    }
  });

  it('leaves lost locks and foreign errors alone (they stay 500s)', () => {
    expect(toHttpException(new LockLostError('lost'))).toBeUndefined();
    expect(toHttpException(new Error('x'))).toBeUndefined();
  });

  it('lists at most 10 resources in the body', () => {
    const resources = Array.from({ length: 9_000 }, (_, i) => `r${i}`);
    const mapped = toHttpException(new LockNotAcquiredError('busy', { resources }))!;
    const body = mapped.getResponse() as { resources: string[]; message: string };
    expect(body.resources).toHaveLength(10);
    expect(body.message.length).toBeLessThan(200);
  });
});
