/**
 * In-process network links between engines and in-memory lock nodes, for the memory world of
 * the model: the same faults the TCP proxy injects on real Redis (latency, blackhole, cut,
 * cut mid-command, refused connections) and the node faults of a real server (paused like
 * SIGSTOP, killed and restarted without its data), at in-process speed.
 *
 * A link keeps the order of a TCP connection: requests reach the node in the order they were
 * sent, replies come back in the order the node answered, and a command the node received is
 * executed even when its reply never arrives. A link that replays (`replaying`, what ioredis
 * does by default for a client an application passes in) re-sends the command whose reply was
 * lost when it reconnects, before anything sent while it was disconnected; a fail-fast link
 * (the library's own clients) rejects instead.
 *
 * Links wrap any `LockAdapter` generically (a JS Proxy: every method but `validateKeys`,
 * `close` and `ready` travels over the link, function arguments such as release listeners come
 * back over it), so they keep working while the adapter interface changes shape.
 */
import type { LockAdapter } from '../../../lib/interfaces/lock-adapter.interface.js';

/** A lock node of the memory world: one store shared by every engine, like one Redis server. */
export class MemoryNode {
  store: LockAdapter;
  paused = false;
  down = false;
  private readonly links = new Set<Link>();

  constructor(
    readonly index: number,
    private readonly make: () => LockAdapter,
  ) {
    this.store = make();
  }

  attach(link: Link): void {
    this.links.add(link);
  }

  detach(link: Link): void {
    this.links.delete(link);
  }

  /** SIGSTOP: requests wait at the node until `resume()`. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    for (const link of this.links) link.pump();
  }

  /** SIGKILL: every connection breaks, the data is gone; refused until `restart()`. */
  async kill(): Promise<void> {
    if (this.down) return;
    this.down = true;
    this.paused = false;
    for (const link of this.links) link.nodeDied();
    await this.store.close();
  }

  restart(): void {
    if (!this.down) return;
    this.store = this.make();
    this.down = false;
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}

export interface LinkOptions {
  /** Random one-way delay of every message, 0 to this many ms. */
  jitter: number;
  /** Re-send a command whose reply was lost, after reconnecting (ioredis defaults). */
  replaying: boolean;
  /** How long a cut link takes to reconnect. */
  reconnectMs: number;
  /** Sees every command a node ran over this link and its outcome (a monitor, for debugging). */
  onExecute?: (link: string, method: string, args: unknown[], outcome: unknown) => void;
}

class ConnectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionError';
  }
}

interface Call {
  readonly path: readonly string[];
  readonly method: string;
  readonly args: unknown[];
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  /** When the request reaches the node; undefined while a blackhole holds it. */
  at: number | undefined;
  /** Set when the reply is to be lost (cut mid-command). */
  loseReply: boolean;
  /** The connection the node executed it on (a reply on a broken connection is lost). */
  epoch: number;
  settled: boolean;
}

interface Reply {
  readonly call: Call;
  readonly ok: boolean;
  readonly value: unknown;
  at: number | undefined;
}

/** One engine's connection to one node. */
export class Link {
  readonly adapter: LockAdapter;
  private latency = 0;
  private holeRequests = false;
  private holeReplies = false;
  private refusing = false;
  private reconnecting = false;
  private cutArmed: string | undefined | null = null;
  private readonly requests: Call[] = [];
  private readonly replies: Reply[] = [];
  /** Sent while disconnected (replaying links only): sent after the replays on reconnect. */
  private readonly offline: Call[] = [];
  /** Executed but unanswered when the link was cut: replayed first on reconnect. */
  private readonly unanswered: Call[] = [];
  private requestTimer: NodeJS.Timeout | undefined;
  private replyTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private lastRequestAt = 0;
  private lastReplyAt = 0;
  private epoch = 0;
  private closed = false;
  readonly stats = { calls: 0, cuts: 0, replays: 0, refused: 0 };

  constructor(
    readonly node: MemoryNode,
    readonly name: string,
    private readonly options: LinkOptions,
  ) {
    node.attach(this);
    this.adapter = this.facade([]);
  }

  // ---- faults --------------------------------------------------------------------------------

  setLatency(ms: number): void {
    this.latency = ms;
  }

  blackhole(): void {
    this.holeRequests = true;
    this.holeReplies = true;
  }

  refuse(): void {
    this.refusing = true;
  }

  /** Breaks the connection now: every call in flight is lost (replayed, or rejected). */
  cut(): void {
    this.stats.cuts += 1;
    this.disconnect();
  }

  /** The next request (of `method`, or any) is executed and then its connection is cut. */
  cutMidCommand(method?: string): void {
    this.cutArmed = method;
  }

  /** Nothing on the way: no request, reply or queued command left to deliver. */
  get idle(): boolean {
    return (
      this.requests.length === 0 &&
      this.replies.length === 0 &&
      this.offline.length === 0 &&
      this.unanswered.length === 0
    );
  }

  /** Forgets an armed `cutMidCommand` that did not fire. */
  disarm(): void {
    this.cutArmed = null;
  }

  heal(): void {
    this.latency = 0;
    this.refusing = false;
    this.cutArmed = null;
    if (this.holeRequests || this.holeReplies) {
      this.holeRequests = false;
      this.holeReplies = false;
      for (const call of this.requests) if (call.at === undefined) call.at = this.requestTime();
      for (const reply of this.replies) if (reply.at === undefined) reply.at = this.replyTime();
    }
    this.pump();
  }

  /** Stops every timer and fails whatever is still pending (end of a run). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.node.detach(this);
    for (const timer of [this.requestTimer, this.replyTimer, this.reconnectTimer]) {
      if (timer) clearTimeout(timer);
    }
    const error = new ConnectionError(`${this.name}: link closed`);
    for (const call of [...this.requests, ...this.offline, ...this.unanswered]) fail(call, error);
    for (const reply of this.replies) fail(reply.call, error);
    this.requests.length = 0;
    this.offline.length = 0;
    this.unanswered.length = 0;
    this.replies.length = 0;
  }

  /** @internal the node was killed: connections break. */
  nodeDied(): void {
    this.disconnect();
  }

  // ---- transport -----------------------------------------------------------------------------

  private send(path: readonly string[], method: string, args: unknown[]): Promise<unknown> {
    this.stats.calls += 1;
    return new Promise((resolve, reject) => {
      const call: Call = {
        path,
        method,
        args,
        resolve,
        reject,
        at: undefined,
        loseReply: false,
        epoch: -1,
        settled: false,
      };
      if (this.closed) return fail(call, new ConnectionError(`${this.name}: link closed`));
      if (this.refusing || this.node.down) {
        this.stats.refused += 1;
        // Fail-fast clients reject while disconnected; replaying ones queue until reconnected.
        if (!this.options.replaying) {
          return fail(call, new ConnectionError(`connect ECONNREFUSED (${this.name})`));
        }
        this.offline.push(call);
        this.scheduleReconnect();
        return;
      }
      if (this.reconnecting) {
        if (!this.options.replaying) {
          return fail(call, new ConnectionError(`${this.name}: connection is closed`));
        }
        this.offline.push(call);
        return;
      }
      call.at = this.requestTime();
      this.requests.push(call);
      this.pump();
    });
  }

  private requestTime(): number | undefined {
    if (this.holeRequests) return undefined;
    const at = Math.max(performance.now() + this.oneWay(), this.lastRequestAt);
    this.lastRequestAt = at;
    return at;
  }

  private replyTime(): number | undefined {
    if (this.holeReplies) return undefined;
    const at = Math.max(performance.now() + this.oneWay(), this.lastReplyAt);
    this.lastReplyAt = at;
    return at;
  }

  private oneWay(): number {
    return this.latency + Math.random() * this.options.jitter;
  }

  /** Delivers what is due, in order; arms a timer for the rest. */
  pump(): void {
    if (this.closed) return;
    const now = performance.now();
    if (this.requestTimer) clearTimeout(this.requestTimer);
    this.requestTimer = undefined;
    while (this.requests.length > 0 && !this.node.paused && !this.node.down) {
      const head = this.requests[0]!;
      if (head.at === undefined) break;
      if (head.at > now) {
        this.requestTimer = setTimeout(() => this.pump(), Math.ceil(head.at - now));
        break;
      }
      this.requests.shift();
      this.execute(head);
    }
    if (this.replyTimer) clearTimeout(this.replyTimer);
    this.replyTimer = undefined;
    while (this.replies.length > 0) {
      const head = this.replies[0]!;
      if (head.at === undefined) break;
      if (head.at > now) {
        this.replyTimer = setTimeout(() => this.pump(), Math.ceil(head.at - now));
        break;
      }
      this.replies.shift();
      if (head.ok) settle(head.call, head.value);
      else fail(head.call, head.value);
    }
  }

  /** The node runs the command; its reply travels back (or is lost with a cut). */
  private execute(call: Call): void {
    call.epoch = this.epoch;
    let result: Promise<unknown>;
    try {
      let target: unknown = this.node.store;
      for (const key of call.path) target = (target as Record<string, unknown>)[key];
      const fn = (target as Record<string, unknown>)[call.method];
      if (typeof fn !== 'function') throw new TypeError(`${call.method} is not a function`);
      result = Promise.resolve(
        (fn as (...args: unknown[]) => unknown).apply(target, this.wrapCallbacks(call.args)),
      );
    } catch (error) {
      result = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    if (this.options.onExecute) {
      const log = this.options.onExecute;
      const name = `${this.name} ${call.path.join('.')}`;
      result.then(
        (value) => log(name, call.method, call.args, value),
        (error: unknown) => log(name, call.method, call.args, `error: ${String(error)}`),
      );
    }
    const arm = this.cutArmed;
    if (arm !== null && (arm === undefined || arm === call.method)) {
      this.cutArmed = null;
      call.loseReply = true;
    }
    result.then(
      (value) => this.answer(call, true, value),
      (error: unknown) => this.answer(call, false, error),
    );
  }

  private answer(call: Call, ok: boolean, value: unknown): void {
    if (call.settled || this.closed) return;
    if (call.epoch !== this.epoch) {
      // The connection broke while the node was at it: the reply has nowhere to go.
      if (this.options.replaying) this.unanswered.push(call);
      else fail(call, new ConnectionError(`${this.name}: connection reset`));
      return;
    }
    if (call.loseReply) {
      // The node did it; the client never hears: the connection breaks here.
      call.loseReply = false;
      this.unanswered.push(call);
      this.stats.cuts += 1;
      this.disconnect();
      return;
    }
    this.replies.push({ call, ok, value, at: this.replyTime() });
    this.pump();
  }

  /** Breaks the connection: requests not yet at the node and replies in flight are lost. */
  private disconnect(): void {
    this.epoch += 1;
    // Executed ones first (their replies were in flight), then those not yet at the node.
    const lost = [...this.replies.splice(0).map((r) => r.call), ...this.requests.splice(0)];
    // A request that never reached the node is re-sent by a replaying client as well.
    for (const call of lost) this.unanswered.push(call);
    if (!this.options.replaying) {
      const error = new ConnectionError(`${this.name}: connection reset`);
      for (const call of this.unanswered.splice(0)) fail(call, error);
    }
    this.reconnecting = true;
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this.closed) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.refusing || this.node.down) {
        this.scheduleReconnect();
        return;
      }
      this.reconnecting = false;
      // Replays first, in their order, then what was sent while disconnected.
      const again = [...this.unanswered.splice(0), ...this.offline.splice(0)];
      this.stats.replays += again.length;
      for (const call of again) {
        call.at = this.requestTime();
        this.requests.push(call);
      }
      this.pump();
    }, this.options.reconnectMs);
  }

  /** Callbacks (release listeners) come back over the link: late, or not at all when cut. */
  private wrapCallbacks(args: unknown[]): unknown[] {
    return args.map((arg) => {
      if (typeof arg !== 'function') return arg;
      return (...values: unknown[]) => {
        if (this.closed || this.reconnecting || this.holeReplies) return;
        setTimeout(() => {
          if (!this.closed) (arg as (...v: unknown[]) => unknown)(...values);
        }, this.oneWay());
      };
    });
  }

  private facade(path: readonly string[]): LockAdapter {
    const target = (): Record<string | symbol, unknown> => {
      let value: unknown = this.node.store;
      for (const key of path) value = (value as Record<string, unknown>)[key];
      return value as Record<string | symbol, unknown>;
    };
    return new Proxy({} as LockAdapter, {
      get: (_, prop) => {
        if (path.length === 0) {
          if (prop === 'name') return this.name;
          if (prop === 'close') return () => Promise.resolve();
          if (prop === 'ready') return undefined;
        }
        const value = target()[prop];
        if (typeof prop === 'symbol') return value;
        if (value !== null && typeof value === 'object' && prop === 'shared') {
          return this.facade([...path, prop]);
        }
        if (typeof value !== 'function') return value;
        if (prop === 'validateKeys' || prop === 'toJSON') {
          return (...args: unknown[]) =>
            (value as (...a: unknown[]) => unknown).apply(target(), args);
        }
        return (...args: unknown[]) => this.send(path, prop, args);
      },
      has: (_, prop) => prop in target(),
    });
  }
}

function settle(call: Call, value: unknown): void {
  if (call.settled) return;
  call.settled = true;
  call.resolve(value);
}

function fail(call: Call, error: unknown): void {
  if (call.settled) return;
  call.settled = true;
  call.reject(error instanceof Error ? error : new Error(String(error)));
}
