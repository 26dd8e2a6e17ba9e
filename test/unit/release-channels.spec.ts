import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
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
});
