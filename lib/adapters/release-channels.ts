/** How an adapter's subscriber connection subscribes to and leaves one channel. */
export interface ChannelTransport {
  subscribe(channel: string): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
}

type ReleaseListener = (message?: string) => void;

interface Channel {
  readonly listeners: Set<ReleaseListener>;
  readonly subscribed: Promise<void>;
  /** When the last listener left (`performance.now()`), while the channel lingers. */
  idleSince: number;
  /** The transport of the last listener to leave: the one to unsubscribe through. */
  transport?: () => ChannelTransport;
}

/**
 * Milliseconds a channel stays subscribed after its last listener left; it is dropped within
 * twice that. A worker that releases a hot key and asks for it again at once finds its line
 * empty (the waiter it handed the lock to left it): without the pause, each of its turns cost
 * an UNSUBSCRIBE and a SUBSCRIBE per node, and the SUBSCRIBE's round trip delayed the next
 * hand-off, since a waiter is not in line until it is subscribed.
 */
export const CHANNEL_LINGER_MS = 100;

/**
 * The release-notification bookkeeping every pub/sub adapter shares: one subscription per
 * channel however many waiters listen, dropped {@link CHANNEL_LINGER_MS} after the last one
 * leaves unless another joins meanwhile, never cached after a failed SUBSCRIBE, and
 * all-or-nothing over the channels of one `onRelease` call.
 */
export class ReleaseChannels {
  private readonly channels = new Map<string, Channel>();
  /** Channels without listeners, still subscribed until the sweep drops them. */
  private readonly idle = new Map<string, Channel>();
  private sweeper: ReturnType<typeof setTimeout> | undefined;

  /** Calls the listeners of `channel` with the notification's message. */
  dispatch(channel: string, message?: string): void {
    const entry = this.channels.get(channel);
    if (!entry) return;
    for (const listener of [...entry.listeners]) listener(message);
  }

  /**
   * Subscribes `listener` to every channel; resolves once all are active, to the function that
   * ends the subscription (idempotent). On failure nothing stays subscribed.
   */
  async listen(
    channels: readonly string[],
    listener: ReleaseListener,
    transport: () => ChannelTransport,
  ): Promise<() => void> {
    const names = [...new Set(channels)];
    const joined: string[] = [];
    try {
      for (const name of names) {
        await this.join(name, listener, transport);
        joined.push(name);
      }
    } catch (error) {
      for (const name of joined) this.leave(name, listener, transport);
      throw error;
    }
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      for (const name of names) this.leave(name, listener, transport);
    };
  }

  /** Forgets every channel without unsubscribing (the adapter closes its subscriber). */
  clear(): void {
    this.channels.clear();
    this.idle.clear();
    clearTimeout(this.sweeper);
    this.sweeper = undefined;
  }

  private join(
    name: string,
    listener: ReleaseListener,
    transport: () => ChannelTransport,
  ): Promise<void> {
    let channel = this.channels.get(name);
    if (!channel) {
      const subscribed = transport()
        .subscribe(name)
        .then(() => undefined);
      const entry: Channel = { listeners: new Set(), subscribed, idleSince: 0 };
      channel = entry;
      this.channels.set(name, entry);
      subscribed.catch(() => {
        // A failed subscription must not stay cached: the next waiter tries again.
        if (this.channels.get(name) === entry) this.channels.delete(name);
      });
    } else if (channel.listeners.size === 0) {
      this.idle.delete(name);
    }
    channel.listeners.add(listener);
    return channel.subscribed;
  }

  private leave(name: string, listener: ReleaseListener, transport: () => ChannelTransport): void {
    const channel = this.channels.get(name);
    if (!channel || !channel.listeners.delete(listener) || channel.listeners.size > 0) return;
    channel.idleSince = performance.now();
    channel.transport = transport;
    this.idle.set(name, channel);
    if (!this.sweeper) this.armSweep();
  }

  private armSweep(): void {
    this.sweeper = setTimeout(() => this.sweep(), CHANNEL_LINGER_MS);
    this.sweeper.unref?.();
  }

  /** Unsubscribes the channels idle for the linger; comes back while any still lingers. */
  private sweep(): void {
    this.sweeper = undefined;
    const now = performance.now();
    // In the order they went idle: a join takes a channel out, its next leave puts it last.
    for (const [name, channel] of this.idle) {
      if (now - channel.idleSince < CHANNEL_LINGER_MS) break;
      this.idle.delete(name);
      if (this.channels.get(name) !== channel) continue; // its SUBSCRIBE failed: already gone
      this.channels.delete(name);
      // Commands on one connection run in order, so a later re-subscribe cannot be overtaken.
      channel.transport!()
        .unsubscribe(name)
        .catch(() => undefined);
    }
    if (this.idle.size > 0) this.armSweep();
  }
}
