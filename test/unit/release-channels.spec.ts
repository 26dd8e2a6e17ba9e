import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import fc from 'fast-check';
import {
  CHANNEL_LINGER_MS,
  type ChannelTransport,
  ReleaseChannels,
} from '../../lib/adapters/release-channels.js';

/** A subscriber connection that answers at once and records what it was sent. */
function transport() {
  const sent: string[] = [];
  const connection: ChannelTransport = {
    subscribe: (channel) => {
      sent.push(`SUBSCRIBE ${channel}`);
      return Promise.resolve();
    },
    unsubscribe: (channel) => {
      sent.push(`UNSUBSCRIBE ${channel}`);
      return Promise.resolve();
    },
  };
  return { sent, open: () => connection };
}

describe('ReleaseChannels', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('keeps the subscription for a listener that comes back within the linger: one SUBSCRIBE', async () => {
    const channels = new ReleaseChannels();
    const { sent, open } = transport();
    const first: (string | undefined)[] = [];
    const stop = await channels.listen(['c'], (m) => first.push(m), open);
    stop();
    jest.advanceTimersByTime(CHANNEL_LINGER_MS / 2);
    const again: (string | undefined)[] = [];
    const stopAgain = await channels.listen(['c'], (m) => again.push(m), open);
    channels.dispatch('c', '.tag.time');
    // The listener that left hears nothing, the one that came back hears the release.
    expect(first).toEqual([]);
    expect(again).toEqual(['.tag.time']);
    jest.advanceTimersByTime(3 * CHANNEL_LINGER_MS);
    expect(sent).toEqual(['SUBSCRIBE c']);
    stopAgain();
  });

  it('unsubscribes once nobody listened for the linger, and subscribes again for the next listener', async () => {
    const channels = new ReleaseChannels();
    const { sent, open } = transport();
    const stop = await channels.listen(['c', 'd'], () => undefined, open);
    stop();
    jest.advanceTimersByTime(CHANNEL_LINGER_MS - 1);
    expect(sent).toEqual(['SUBSCRIBE c', 'SUBSCRIBE d']);
    jest.advanceTimersByTime(CHANNEL_LINGER_MS + 1);
    expect(sent).toEqual(['SUBSCRIBE c', 'SUBSCRIBE d', 'UNSUBSCRIBE c', 'UNSUBSCRIBE d']);
    const heard: (string | undefined)[] = [];
    const stopAgain = await channels.listen(['c'], (m) => heard.push(m), open);
    channels.dispatch('c', '');
    expect(heard).toEqual(['']);
    expect(sent.slice(4)).toEqual(['SUBSCRIBE c']);
    stopAgain();
  });

  it('sends nothing after clear(): the adapter closes its subscriber itself', async () => {
    const channels = new ReleaseChannels();
    const { sent, open } = transport();
    (await channels.listen(['c'], () => undefined, open))();
    channels.clear();
    jest.advanceTimersByTime(3 * CHANNEL_LINGER_MS);
    expect(sent).toEqual(['SUBSCRIBE c']);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('under random listens, leaves, releases and pauses: each listener hears exactly its channels, and idle channels go', async () => {
    const names = ['a', 'b', 'c'];
    const op = fc.oneof(
      fc.record({ kind: fc.constant('listen' as const), on: fc.subarray(names, { minLength: 1 }) }),
      fc.record({ kind: fc.constant('stop' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('dispatch' as const), on: fc.constantFrom(...names) }),
      fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 250 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
        const channels = new ReleaseChannels();
        const { sent, open } = transport();
        const live: { on: readonly string[]; heard: string[]; stop: () => void }[] = [];
        /** Per channel: whether the last command sent for it was a SUBSCRIBE. */
        const subscribed = (name: string) =>
          sent
            .filter((c) => c.endsWith(` ${name}`))
            .at(-1)
            ?.startsWith('SUBSCRIBE') ?? false;
        /** When each channel last lost its last listener (fake time). */
        const idleSince = new Map<string, number>();
        for (const step of ops) {
          if (step.kind === 'listen') {
            const entry = { on: step.on, heard: [] as string[], stop: (): void => undefined };
            const before = sent.length;
            entry.stop = await channels.listen(step.on, (m) => entry.heard.push(m ?? ''), open);
            for (const name of step.on) {
              // A channel idle for less than the linger is still subscribed: no new SUBSCRIBE.
              const idle = idleSince.get(name);
              if (idle !== undefined && Date.now() - idle < CHANNEL_LINGER_MS) {
                expect(sent.slice(before)).not.toContain(`SUBSCRIBE ${name}`);
              }
              idleSince.delete(name);
            }
            live.push(entry);
          } else if (step.kind === 'stop' && live.length > 0) {
            const [entry] = live.splice(step.pick % live.length, 1);
            entry!.stop();
            for (const name of entry!.on) {
              if (!live.some((other) => other.on.includes(name))) idleSince.set(name, Date.now());
            }
          } else if (step.kind === 'dispatch') {
            const before = live.map((entry) => entry.heard.length);
            channels.dispatch(step.on, `.${step.on}`);
            live.forEach((entry, i) =>
              expect(entry.heard.length - before[i]!).toBe(entry.on.includes(step.on) ? 1 : 0),
            );
          } else if (step.kind === 'wait') {
            jest.advanceTimersByTime(step.ms);
          }
          // Every channel someone listens on is subscribed; commands alternate per channel.
          for (const name of names) {
            const commands = sent.filter((c) => c.endsWith(` ${name}`));
            commands.forEach((c, i) =>
              expect(c).toBe(`${i % 2 === 0 ? 'SUBSCRIBE' : 'UNSUBSCRIBE'} ${name}`),
            );
            if (live.some((entry) => entry.on.includes(name))) expect(subscribed(name)).toBe(true);
          }
        }
        for (const entry of live.splice(0)) entry.stop();
        jest.advanceTimersByTime(2 * CHANNEL_LINGER_MS + 1);
        for (const name of names) expect(subscribed(name)).toBe(false);
        expect(jest.getTimerCount()).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});
