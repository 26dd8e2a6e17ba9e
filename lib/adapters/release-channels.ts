/** How an adapter's subscriber connection subscribes to and leaves one channel. */
export interface ChannelTransport {
  subscribe(channel: string): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
}

type ReleaseListener = (message?: string) => void;

interface Channel {
  readonly listeners: Set<ReleaseListener>;
  readonly subscribed: Promise<void>;
}

/**
 * The release-notification bookkeeping every pub/sub adapter shares: one subscription per
 * channel however many waiters listen, dropped when the last one leaves, never cached after a
 * failed SUBSCRIBE, and all-or-nothing over the channels of one `onRelease` call.
 */
export class ReleaseChannels {
  private readonly channels = new Map<string, Channel>();

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

  clear(): void {
    this.channels.clear();
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
      const entry: Channel = { listeners: new Set(), subscribed };
      channel = entry;
      this.channels.set(name, entry);
      subscribed.catch(() => {
        // A failed subscription must not stay cached: the next waiter tries again.
        if (this.channels.get(name) === entry) this.channels.delete(name);
      });
    }
    channel.listeners.add(listener);
    return channel.subscribed;
  }

  private leave(name: string, listener: ReleaseListener, transport: () => ChannelTransport): void {
    const channel = this.channels.get(name);
    if (!channel || !channel.listeners.delete(listener) || channel.listeners.size > 0) return;
    this.channels.delete(name);
    // Commands on one connection run in order, so a later re-subscribe cannot be overtaken.
    transport()
      .unsubscribe(name)
      .catch(() => undefined);
  }
}
