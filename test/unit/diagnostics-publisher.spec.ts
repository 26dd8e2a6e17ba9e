import { channel, subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from '@jest/globals';
import type { RedlockEvent } from '../../lib/interfaces/redlock-events.interface.js';
import { REDLOCK_CHANNELS } from '../../lib/observability/diagnostics-channels.js';
import {
  publishBusySkip,
  publishRedlockEvent,
} from '../../lib/observability/diagnostics-publisher.js';
import { LockLostError, LockNotAcquiredError } from '../../lib/redlock.errors.js';
import type { Lease } from '../../lib/services/lease.js';

/**
 * The zero-cost promise: with nobody subscribed, publishing an engine event reads nothing but
 * `event.type` (no payload object is built, no lock id handed out, the lease is not touched).
 * Events and leases here are proxies that record every property read.
 */
describe('diagnostics channel publisher', () => {
  const subscriptions: [string, (message: unknown) => void][] = [];
  const listen = (name: string): unknown[] => {
    const messages: unknown[] = [];
    const listener = (message: unknown): void => void messages.push(message);
    subscribe(name, listener);
    subscriptions.push([name, listener]);
    return messages;
  };
  afterEach(() => {
    for (const [name, listener] of subscriptions.splice(0)) unsubscribe(name, listener);
  });

  const recorded = <T extends object>(target: T, reads: string[]): T =>
    new Proxy(target, {
      get(object, key, receiver) {
        reads.push(String(key));
        return Reflect.get(object, key, receiver) as unknown;
      },
    });

  const events = (): RedlockEvent[] => [
    { type: 'acquired', resources: ['a'], fencingToken: 7, attempts: 2, waited: 12 },
    { type: 'extended', resources: ['a'], expiresAt: 1_000 },
    { type: 'released', resources: ['a'], status: 'released', held: 30 },
    {
      type: 'lost',
      resources: ['a'],
      held: 40,
      error: new LockLostError('lost', { resources: ['a'] }),
    },
    {
      type: 'failed',
      resources: ['a'],
      attempts: 3,
      waited: 50,
      nodes: [],
      error: new LockNotAcquiredError('busy', { resources: ['a'], retryAfter: 90 }),
    },
    { type: 'circuit', resources: [], node: 'redis-1', from: 'closed', to: 'open' },
    { type: 'degraded', resources: ['a'], active: true },
    { type: 'forceReleased', resources: ['a'], by: 'ops:alice', deleted: 2, fencingCounter: 9 },
  ];

  const lease = (reads: string[]): Lease =>
    recorded({ mode: 'write', token: 7 } as unknown as Lease, reads);

  it('reads nothing but event.type when no channel has a subscriber', () => {
    for (const name of Object.values(REDLOCK_CHANNELS)) {
      expect(channel(name).hasSubscribers).toBe(false);
    }
    for (const event of events()) {
      const eventReads: string[] = [];
      const leaseReads: string[] = [];
      publishRedlockEvent(recorded(event, eventReads), lease(leaseReads));
      expect({ type: event.type, eventReads, leaseReads }).toEqual({
        type: event.type,
        eventReads: ['type'],
        leaseReads: [],
      });
    }
  });

  it('builds only the payload of a channel that has a subscriber', () => {
    const released = listen(REDLOCK_CHANNELS.release);
    for (const event of events()) {
      const eventReads: string[] = [];
      const leaseReads: string[] = [];
      publishRedlockEvent(recorded(event, eventReads), lease(leaseReads));
      if (event.type === 'released') {
        expect(eventReads).toEqual(expect.arrayContaining(['type', 'resources', 'status', 'held']));
        expect(leaseReads).toEqual(['token']);
      } else {
        expect({ type: event.type, eventReads, leaseReads }).toEqual({
          type: event.type,
          eventReads: ['type'],
          leaseReads: [],
        });
      }
    }
    expect(released).toEqual([
      {
        lockId: expect.any(Number),
        resources: ['a'],
        status: 'released',
        held: 30,
        fencingToken: 7,
      },
    ]);
  });

  it('publishes degraded and force-release messages, without touching a lease', () => {
    expect(REDLOCK_CHANNELS.degraded).toBe('nestjs-redlock:degraded');
    expect(REDLOCK_CHANNELS.forceRelease).toBe('nestjs-redlock:force-release');
    const degraded = listen(REDLOCK_CHANNELS.degraded);
    const forced = listen(REDLOCK_CHANNELS.forceRelease);
    for (const event of events()) {
      const leaseReads: string[] = [];
      publishRedlockEvent(event, lease(leaseReads));
      expect({ type: event.type, leaseReads }).toEqual({ type: event.type, leaseReads: [] });
    }
    publishRedlockEvent({ type: 'degraded', resources: ['b'], active: false }, undefined);
    expect(degraded).toEqual([
      { active: true, resources: ['a'] },
      { active: false, resources: ['b'] },
    ]);
    expect(forced).toEqual([{ resources: ['a'], by: 'ops:alice', deleted: 2, fencingCounter: 9 }]);
  });

  it('gives a lease the same lock id in every message, and different leases different ids', () => {
    const acquired = listen(REDLOCK_CHANNELS.acquire);
    const released = listen(REDLOCK_CHANNELS.release);
    const [first, second] = [lease([]), lease([])];
    const [acquire, , release] = events();
    publishRedlockEvent(acquire!, first);
    publishRedlockEvent(acquire!, second);
    publishRedlockEvent(release!, first);
    const ids = (acquired as { lockId: number }[]).map((message) => message.lockId);
    expect(new Set(ids).size).toBe(2);
    expect((released[0] as { lockId: number }).lockId).toBe(ids[0]);
  });

  it('publishes a skipped busy call only when the busy channel has a subscriber', () => {
    const error = new LockNotAcquiredError('busy', { resources: ['job'], retryAfter: 5 });
    const reads: string[] = [];
    publishBusySkip(recorded(error, reads), 'Jobs.run');
    expect(reads).toEqual([]);
    const busy = listen(REDLOCK_CHANNELS.busy);
    publishBusySkip(error, 'Jobs.run');
    expect(busy).toEqual([
      {
        resources: ['job'],
        attempts: undefined,
        waited: undefined,
        retryAfter: 5,
        skipped: true,
        method: 'Jobs.run',
        error,
      },
    ]);
  });
});
