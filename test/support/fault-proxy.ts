/**
 * A fault-injecting TCP proxy for one Redis server (or any TCP server), with nothing but
 * `node:net`: it listens on a loopback port the OS hands out and forwards every connection to
 * its target, and at runtime it can
 *
 * - delay bytes, per direction (`latency`), keeping their order;
 * - blackhole a direction (`blackhole`): bytes are accepted from the sender and forwarded to
 *   nobody, as in a network partition. TCP never loses bytes silently on a live connection,
 *   so the held bytes are delivered when the partition heals (`heal()`), or the connections
 *   that held some are cut (`heal({ held: 'cut' })`, a partition that outlasted TCP's patience).
 *   Dropping them and keeping the connection would desynchronise RESP, which no real network
 *   does;
 * - cut connections (`cut`): every socket destroyed at once (the client side with a TCP RST);
 * - cut mid-command (`cutMidCommand`): the next request that matches (RESP as sent: ioredis
 *   writes command names in lower case) is forwarded and executed
 *   by the server, and its connection is cut when the reply starts coming back, so the client
 *   never learns the outcome (what makes ioredis replay a command after reconnecting);
 * - lift a blackhole in one direction only (`lift`), e.g. requests reach the server while its
 *   replies are still held;
 * - refuse new connections (`refuse`): accepted and reset at once;
 * - heal everything (`heal`).
 *
 * Every wait in tests built on it is an event (`nextConnection`, the promise of
 * `cutMidCommand`), never a sleep.
 */
import { EventEmitter, once } from 'node:events';
import { createServer, type Server, Socket } from 'node:net';
import { clearTimeout, setTimeout } from 'node:timers';
import { LOOPBACK } from './free-port.js';

export interface FaultProxyOptions {
  /** The server behind the proxy (loopback only). */
  target: { host: string; port: number };
  /** For messages and stats; default `proxy->host:port`. */
  name?: string;
}

/** `toServer`: client -> server (requests); `toClient`: server -> client (replies). */
export type Direction = 'toServer' | 'toClient';
export type Directions = Direction | 'both';

export interface FaultProxyStats {
  accepted: number;
  refused: number;
  active: number;
  /** Connections destroyed by `cut()`, `cutMidCommand()` and `heal({ held: 'cut' })`. */
  cuts: number;
  midCommandCuts: number;
  /** Upstream connections that failed (target down) and took their client with them. */
  upstreamFailures: number;
  bytesToServer: number;
  bytesToClient: number;
}

export interface CutMidCommandOptions {
  /**
   * Only a request chunk containing this (case-insensitive for strings) arms the cut, e.g.
   * `'EVALSHA'` or `/\bSET\b/`; default: any request.
   */
  match?: string | RegExp;
  /** How many connections to cut this way; default 1. */
  count?: number;
}

interface Item {
  /** `null`: the sender half-closed (FIN), forwarded in order like data. */
  readonly chunk: Buffer | null;
  /** `undefined` while held by a blackhole. */
  readyAt: number | undefined;
}

/** One direction of one connection: an ordered queue with a per-item release time. */
class Pipe {
  private readonly queue: Item[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastReadyAt = 0;

  constructor(
    private readonly proxy: FaultProxy,
    private readonly conn: Connection,
    readonly direction: Direction,
    private readonly dest: Socket,
  ) {}

  get holding(): boolean {
    return this.queue.some((item) => item.readyAt === undefined);
  }

  get empty(): boolean {
    return this.queue.length === 0;
  }

  push(chunk: Buffer | null): void {
    const readyAt = this.releaseTime();
    this.queue.push({ chunk, readyAt });
    if (readyAt === undefined) this.proxy.held(this.direction);
    this.pump();
  }

  /** Held items become due (after the current latency), in their order. */
  unhold(): void {
    for (const item of this.queue)
      if (item.readyAt === undefined) item.readyAt = this.releaseTime();
    this.pump();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }

  private releaseTime(): number | undefined {
    if (this.proxy.isBlackholed(this.direction)) return undefined;
    // Never before an earlier item: latency may shrink, order may not change.
    const at = Math.max(performance.now() + this.proxy.latencyOf(this.direction), this.lastReadyAt);
    this.lastReadyAt = at;
    return at;
  }

  private pump(): void {
    if (this.timer) return;
    const now = performance.now();
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      if (head.readyAt === undefined) return; // held: unhold() pumps again
      if (head.readyAt > now + 0.5) {
        this.timer = setTimeout(
          () => {
            this.timer = undefined;
            this.pump();
          },
          Math.ceil(head.readyAt - now),
        );
        return;
      }
      this.queue.shift();
      this.deliver(head.chunk);
    }
  }

  private deliver(chunk: Buffer | null): void {
    if (this.dest.destroyed) return;
    if (chunk === null) {
      this.dest.end();
      return;
    }
    if (this.direction === 'toServer') this.proxy.requestForwarded(this.conn, chunk);
    this.dest.write(chunk);
    this.proxy.forwarded(this.direction, chunk.length);
  }
}

/** A client connection and its upstream connection. */
class Connection {
  readonly toServer: Pipe;
  readonly toClient: Pipe;
  /** A forwarded request armed the mid-command cut: the reply's first byte cuts instead. */
  armedBy: MidCommandArm | undefined;
  private connected = false;
  private closed = false;

  constructor(
    private readonly proxy: FaultProxy,
    readonly client: Socket,
    readonly upstream: Socket,
  ) {
    this.toServer = new Pipe(proxy, this, 'toServer', upstream);
    this.toClient = new Pipe(proxy, this, 'toClient', client);
    client.on('data', (chunk: Buffer) => {
      this.proxy.arrived('toServer');
      this.toServer.push(chunk);
    });
    client.on('end', () => this.toServer.push(null));
    upstream.on('data', (chunk: Buffer) => {
      this.proxy.arrived('toClient');
      if (this.armedBy) {
        this.proxy.midCommandCut(this, this.armedBy);
        return;
      }
      this.toClient.push(chunk);
    });
    upstream.on('end', () => this.toClient.push(null));
    upstream.once('connect', () => (this.connected = true));
    // A failed upstream (target down) takes the client with it (on 'close' below), as a
    // refused connection would.
    upstream.on('error', () => {
      if (!this.connected) this.proxy.upstreamFailed();
    });
    const onClose = (): void => this.destroy(false);
    client.on('error', () => undefined);
    client.on('close', onClose);
    upstream.on('close', onClose);
  }

  /** Ends both sides at once; `reset` sends the client a TCP RST rather than a FIN. */
  destroy(reset: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.toServer.stop();
    this.toClient.stop();
    if (reset && !this.client.destroyed) this.client.resetAndDestroy();
    else this.client.destroy();
    this.upstream.destroy();
    this.proxy.forget(this);
    // Armed, but closed before the reply came: the cut is still owed to another request.
    const arm = this.armedBy;
    this.armedBy = undefined;
    if (arm) arm.remaining += 1;
  }

  get holding(): boolean {
    return this.toServer.holding || this.toClient.holding;
  }

  get empty(): boolean {
    return this.toServer.empty && this.toClient.empty;
  }
}

interface MidCommandArm {
  readonly match: CutMidCommandOptions['match'];
  /** Connections still to arm. */
  remaining: number;
  /** Cuts still to make before `resolve`. */
  owed: number;
  readonly resolve: () => void;
}

export class FaultProxy {
  readonly host = LOOPBACK;
  readonly name: string;
  private readonly server: Server;
  private readonly connections = new Set<Connection>();
  private readonly events = new EventEmitter();
  private readonly latency: Record<Direction, number> = { toServer: 0, toClient: 0 };
  private readonly holes: Record<Direction, boolean> = { toServer: false, toClient: false };
  private refusing = false;
  private arm: MidCommandArm | undefined;
  private closed = false;
  private readonly counters: Omit<FaultProxyStats, 'active'> = {
    accepted: 0,
    refused: 0,
    cuts: 0,
    midCommandCuts: 0,
    upstreamFailures: 0,
    bytesToServer: 0,
    bytesToClient: 0,
  };

  private constructor(
    private readonly target: { host: string; port: number },
    readonly port: number,
    server: Server,
    name: string | undefined,
  ) {
    this.server = server;
    this.name = name ?? `proxy->${target.host}:${target.port}`;
    server.on('connection', (socket) => this.accept(socket));
  }

  /** Starts listening on 127.0.0.1 on a port the OS picks. */
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const { target } = options;
    if (target.host !== LOOPBACK && target.host !== 'localhost') {
      throw new Error(`FaultProxy: loopback targets only, got ${target.host}`);
    }
    const server = createServer({ noDelay: true });
    server.listen({ port: 0, host: LOOPBACK, exclusive: true });
    await once(server, 'listening');
    const address = server.address();
    if (typeof address !== 'object' || address === null) throw new Error('FaultProxy: no port');
    return new FaultProxy(target, address.port, server, options.name);
  }

  /** `redis://127.0.0.1:PORT` of the proxy. */
  get url(): string {
    return `redis://${this.host}:${this.port}`;
  }

  /** No bytes waiting in the proxy (delayed or held) on any connection. */
  get idle(): boolean {
    for (const conn of this.connections) if (!conn.empty) return false;
    return true;
  }

  get stats(): FaultProxyStats {
    return { ...this.counters, active: this.connections.size };
  }

  /** Delays every chunk by `ms` (both directions) or per direction. Applies to new bytes. */
  setLatency(ms: number | Partial<Record<Direction, number>>): void {
    const next = typeof ms === 'number' ? { toServer: ms, toClient: ms } : ms;
    for (const direction of ['toServer', 'toClient'] as const) {
      const value = next[direction];
      if (value === undefined) continue;
      if (!Number.isFinite(value) || value < 0) throw new RangeError(`latency ${value}`);
      this.latency[direction] = value;
    }
  }

  /** Accepts bytes in `direction` and forwards none until `heal()`. */
  blackhole(direction: Directions = 'both'): void {
    for (const d of expand(direction)) this.holes[d] = true;
  }

  /** Ends the blackhole of `direction` only: what it held is delivered, in order. */
  lift(direction: Directions = 'both'): void {
    for (const d of expand(direction)) this.holes[d] = false;
    for (const conn of this.connections) {
      for (const d of expand(direction))
        (d === 'toServer' ? conn.toServer : conn.toClient).unhold();
    }
  }

  /** Resets new connections at once (the listener stays bound, so the port stays ours). */
  refuse(on = true): void {
    this.refusing = on;
  }

  /** Destroys every connection now (clients get a TCP RST); returns how many. */
  cut(): number {
    const all = [...this.connections];
    for (const conn of all) conn.destroy(true);
    this.counters.cuts += all.length;
    return all.length;
  }

  /**
   * Arms a mid-command cut: the next matching request is forwarded (the server executes it)
   * and its connection is cut when the reply comes back, before the client sees a byte of it.
   * Resolves once `count` connections were cut this way; `heal()` disarms (and resolves).
   */
  cutMidCommand(options: CutMidCommandOptions = {}): Promise<void> {
    this.arm?.resolve();
    const count = options.count ?? 1;
    return new Promise((resolve) => {
      this.arm = { match: options.match, remaining: count, owed: count, resolve };
    });
  }

  /**
   * Ends every fault: no latency, no blackhole, no refusal, no armed cut. Bytes a blackhole
   * held are delivered in order (`held: 'deliver'`, default), or their connections are cut.
   */
  heal(options: { held?: 'deliver' | 'cut' } = {}): void {
    this.latency.toServer = 0;
    this.latency.toClient = 0;
    this.holes.toServer = false;
    this.holes.toClient = false;
    this.refusing = false;
    const arm = this.arm;
    this.arm = undefined;
    arm?.resolve();
    for (const conn of this.connections) conn.armedBy = undefined;
    for (const conn of [...this.connections]) {
      if (options.held === 'cut' && conn.holding) {
        this.counters.cuts += 1;
        conn.destroy(true);
        continue;
      }
      conn.toServer.unhold();
      conn.toClient.unhold();
    }
  }

  /** Resolves when the next client connection has been accepted and forwarded. */
  async nextConnection(): Promise<void> {
    await once(this.events, 'connection');
  }

  /** Resolves when bytes are next forwarded (in `direction`, or either). */
  async nextForwarded(direction?: Direction): Promise<void> {
    for (;;) {
      const [sent] = (await once(this.events, 'forwarded')) as [Direction];
      if (direction === undefined || sent === direction) return;
    }
  }

  /**
   * Resolves when bytes next arrive at the proxy (before any delay or blackhole): in
   * `toClient`, the server has answered, so it executed the request.
   */
  async nextArrived(direction?: Direction): Promise<void> {
    for (;;) {
      const [came] = (await once(this.events, 'arrived')) as [Direction];
      if (direction === undefined || came === direction) return;
    }
  }

  /** Resolves when a blackhole next holds bytes (in `direction`, or either). */
  async nextHeld(direction?: Direction): Promise<void> {
    for (;;) {
      const [held] = (await once(this.events, 'held')) as [Direction];
      if (direction === undefined || held === direction) return;
    }
  }

  /** Stops listening and destroys every connection. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.heal({ held: 'cut' });
    for (const conn of [...this.connections]) conn.destroy(false);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- used by connections and pipes --------------------------------------------------------

  /** @internal */
  arrived(direction: Direction): void {
    this.events.emit('arrived', direction);
  }

  /** @internal */
  held(direction: Direction): void {
    this.events.emit('held', direction);
  }

  /** @internal */
  isBlackholed(direction: Direction): boolean {
    return this.holes[direction];
  }

  /** @internal */
  latencyOf(direction: Direction): number {
    return this.latency[direction];
  }

  /** @internal */
  forwarded(direction: Direction, bytes: number): void {
    if (direction === 'toServer') this.counters.bytesToServer += bytes;
    else this.counters.bytesToClient += bytes;
    this.events.emit('forwarded', direction);
  }

  /** @internal A request chunk went to the server: arm the connection if it matches. */
  requestForwarded(conn: Connection, chunk: Buffer): void {
    const arm = this.arm;
    if (!arm || arm.remaining <= 0 || conn.armedBy) return;
    if (arm.match !== undefined) {
      const text = chunk.toString('latin1');
      const hit =
        typeof arm.match === 'string'
          ? text.toUpperCase().includes(arm.match.toUpperCase())
          : arm.match.test(text);
      if (!hit) return;
    }
    conn.armedBy = arm;
    arm.remaining -= 1;
  }

  /** @internal The reply to an armed request arrived: cut instead of forwarding it. */
  midCommandCut(conn: Connection, arm: MidCommandArm): void {
    conn.armedBy = undefined;
    this.counters.midCommandCuts += 1;
    this.counters.cuts += 1;
    conn.destroy(true);
    arm.owed -= 1;
    if (arm.owed <= 0) {
      if (this.arm === arm) this.arm = undefined;
      arm.resolve();
    }
  }

  /** @internal */
  upstreamFailed(): void {
    this.counters.upstreamFailures += 1;
  }

  /** @internal */
  forget(conn: Connection): void {
    this.connections.delete(conn);
  }

  private accept(client: Socket): void {
    if (this.closed || this.refusing) {
      this.counters.refused += 1;
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    this.counters.accepted += 1;
    client.setNoDelay(true);
    const upstream = new Socket();
    upstream.setNoDelay(true);
    const conn = new Connection(this, client, upstream);
    this.connections.add(conn);
    upstream.connect({ host: this.target.host, port: this.target.port });
    this.events.emit('connection');
  }
}

function expand(direction: Directions): Direction[] {
  return direction === 'both' ? ['toServer', 'toClient'] : [direction];
}
