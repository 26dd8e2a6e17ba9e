import { describe, expect, it } from '@jest/globals';
import {
  describeNodeError,
  listForMessage,
  redact,
  redactUrl,
  safeMessage,
  truncate,
} from '../../lib/redaction.js';
import { LockNotAcquiredError } from '../../lib/redlock.errors.js';

describe('redaction of credentials', () => {
  it.each([
    ['redis://:s3cret@10.0.0.5:6379/0', 'redis://***@10.0.0.5:6379/0'],
    ['rediss://app:s3cret@cache:6380', 'rediss://***@cache:6380'],
    ['redis://admin:p@ss@word@h:1', 'redis://***@h:1'],
    ['cannot reach redis://u:pw@h:1 now', 'cannot reach redis://***@h:1 now'],
    ['redis://h:1/0?password=s3cret&db=1', 'redis://h:1/0?password=***&db=1'],
    ['redis://10.0.0.5:6379', 'redis://10.0.0.5:6379'],
  ])('redact(%j)', (input, expected) => {
    expect(redact(input)).toBe(expected);
  });

  it('redactUrl hides a password with spaces and slashes, as a whole address', () => {
    expect(redactUrl(' redis://:p@ss w/rd@cache:6379/0')).toBe(' redis://***@cache:6379/0');
    expect(redactUrl('not a url')).toBe('not a url');
  });

  it('safeMessage redacts and bounds any thrown value', () => {
    expect(safeMessage(new Error('connect to redis://:pw@h:1 failed'))).toBe(
      'connect to redis://***@h:1 failed',
    );
    expect(safeMessage('x'.repeat(10_000)).length).toBeLessThanOrEqual(500);
  });
});

describe('bounded messages', () => {
  it('truncate keeps the start and the end and says how much was cut', () => {
    const text = `start-${'x'.repeat(10_000)}-end`;
    const cut = truncate(text, 200);
    expect(cut.length).toBeLessThanOrEqual(200);
    expect(cut.startsWith('start-')).toBe(true);
    expect(cut.endsWith('-end')).toBe(true);
    expect(cut).toMatch(/characters cut/);
    expect(truncate('short', 200)).toBe('short');
  });

  it('listForMessage names the first items and counts the rest', () => {
    expect(listForMessage(['a', 'b', 'c', 'd'], 2)).toBe('a, b and 2 more');
    expect(listForMessage(['a', 'b'], 2)).toBe('a, b');
  });

  it('an error naming 9,000 resources keeps a message under 2,000 characters, and every resource', () => {
    const resources = Array.from({ length: 9_000 }, (_, i) => `item:${i}`);
    const error = new LockNotAcquiredError(`Resource ${resources.join(', ')} is locked.`, {
      resources,
    });
    expect(error.message.length).toBeLessThanOrEqual(2_000);
    expect(error.message.endsWith('is locked.')).toBe(true);
    expect(error.resources).toHaveLength(9_000);
    expect(error.code).toBe('ERR_REDLOCK_BUSY');
  });
});

describe('describeNodeError', () => {
  const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

  it.each([
    [
      withCode('connect ECONNREFUSED 10.0.0.5:6379', 'ECONNREFUSED'),
      'connection refused (10.0.0.5:6379)',
    ],
    [
      new Error('redis://h:1/0 is not connected (reconnecting): connect ECONNREFUSED 127.0.0.1:1'),
      'connection refused (127.0.0.1:1)',
    ],
    [withCode('getaddrinfo ENOTFOUND cache.internal', 'ENOTFOUND'), 'host not found'],
    [new Error("Stream isn't writeable and enableOfflineQueue options is false"), 'not connected'],
    [new Error('redis://h:1/0 is not connected (connecting)'), 'not connected'],
    [
      new Error('WRONGPASS invalid username-password pair or user is disabled.'),
      'authentication failed (WRONGPASS invalid username-password pair or user is disabled.)',
    ],
    [
      new Error('NOAUTH Authentication required.'),
      'authentication failed (NOAUTH Authentication required.)',
    ],
    [new Error('no answer within 1000 ms'), 'no answer within 1000 ms'],
  ])('%s', (error, expected) => {
    expect(describeNodeError(error)).toBe(expected);
  });

  it('never shows credentials', () => {
    expect(describeNodeError(new Error('failed on redis://:hunter2@h:1'))).not.toContain('hunter2');
  });
});
