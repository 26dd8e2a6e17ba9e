/**
 * Real Redis servers for integration tests: standalone nodes (local processes, or Docker
 * containers with REDLOCK_TEST_DOCKER=1), a 3-master Redis Cluster and a Sentinel setup.
 * Every process started here is SIGKILLed when the test process exits, even if a test forgot
 * to call `stop()`.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
// Timers come from the module, not the globals, so the fleet keeps working while a test
// runs with jest fake timers.
import { clearTimeout, setTimeout } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { findFreePort, LOOPBACK, releasePort } from './free-port.js';
import { hostProcess } from './host-process.js';

export const REDIS_SERVER_MISSING =
  'redis-server was not found on PATH. The integration tests run real Redis servers: ' +
  'install it (Debian/Ubuntu: `apt-get install redis-server`, macOS: `brew install redis`), ' +
  'or set REDLOCK_TEST_DOCKER=1 to start standalone nodes in Docker via testcontainers.';

export const TESTCONTAINERS_MISSING =
  'REDLOCK_TEST_DOCKER=1 needs `npm i -D testcontainers` and a reachable Docker engine';

const READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 2_000;
const CLUSTER_BUS_OFFSET = 10_000;

export interface HostPort {
  host: string;
  port: number;
}

/** One Redis server of a fleet. */
export interface RedisNode {
  /** For messages: `redis-1 (127.0.0.1:40123)`. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** `redis://127.0.0.1:PORT`, with `:password@` when the node requires one. */
  readonly url: string;
  readonly password: string | undefined;
  /** OS pid of the running server; undefined when it is down or runs in a container. */
  readonly pid: number | undefined;
  /** SIGKILL (container kill); resolves once the server has exited. */
  kill(): Promise<void>;
  /** SIGSTOP (container pause): connections stay open, nothing answers. */
  pause(): Promise<void>;
  /** SIGCONT (container unpause). */
  resume(): Promise<void>;
  /** Kills the server if it runs and starts it again on the same port, data gone. */
  restart(): Promise<void>;
  /** A new ioredis client for assertions; closed by `stop()`. */
  client(options?: RedisOptions): Redis;
  stop(): Promise<void>;
}

export interface RedisFleet {
  readonly nodes: readonly RedisNode[];
  readonly urls: readonly string[];
  /** Stops every node; safe to call more than once. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface RedisFleetOptions {
  /** How many independent servers; default 1. */
  nodes?: number;
  /**
   * Extra `redis-server` arguments, e.g. `['--requirepass', 's3cret']` or
   * `['--user', 'app', 'on', '>pw', '~*', '&*', '+@all']`. A `--port` here fixes the port
   * (one node only).
   */
  args?: readonly string[];
  /** Shorthand for `--requirepass`; also used by `url` and `client()`. */
  password?: string;
  /** Default: `process.env.REDLOCK_TEST_DOCKER === '1'`. */
  docker?: boolean;
  /** Docker image for the container path; default `redis:7`. */
  image?: string;
  readyTimeoutMs?: number;
}

export interface RedisClusterFleet {
  readonly nodes: readonly RedisNode[];
  readonly startupNodes: readonly HostPort[];
  /** A new ioredis Cluster client; closed by `stop()`. */
  client(options?: ClusterOptions): Cluster;
  /** Resolves when every running node reports `cluster_state:ok` (e.g. after a restart). */
  waitUntilOk(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface RedisClusterFleetOptions {
  /** Default 3, the minimum `redis-cli --cluster create` accepts. */
  masters?: number;
  args?: readonly string[];
  password?: string;
  readyTimeoutMs?: number;
}

export interface RedisSentinelFleet {
  readonly name: string;
  readonly master: RedisNode;
  readonly replica: RedisNode;
  readonly sentinels: readonly HostPort[];
  /** The sentinel processes, to kill or pause them. */
  readonly sentinelNodes: readonly RedisNode[];
  /** A new ioredis client that finds the master through the sentinels; closed by `stop()`. */
  client(options?: RedisOptions): Redis;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface RedisSentinelFleetOptions {
  /** Master group name; default `mymaster`. */
  name?: string;
  /** Default 3. */
  sentinels?: number;
  /** Default 2. */
  quorum?: number;
  /** Password of master and replica (`requirepass`, `masterauth`, `sentinel auth-pass`). */
  password?: string;
  /**
   * Also wait (about 2 s) until every sentinel knows the replica and its peers, which a
   * failover needs. Default true.
   */
  awaitDiscovery?: boolean;
  readyTimeoutMs?: number;
}

export function dockerRequested(): boolean {
  return process.env.REDLOCK_TEST_DOCKER === '1';
}

// ---------------------------------------------------------------------------------------------
// Reaping on exit

// Jest's per-file `process` is a copy whose 'exit' listeners never fire: the host's does.
const host = hostProcess();
/** Running servers and the temp dir each one works in. */
const liveChildren = new Map<ChildProcess, string>();
const FATAL_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let hooksInstalled = false;

function killLiveChildrenNow(): void {
  for (const [child, dir] of liveChildren) {
    try {
      // SIGKILL also ends a SIGSTOPped process.
      child.kill('SIGKILL');
      // Synchronous: nothing asynchronous runs after 'exit'.
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Already gone.
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  killLiveChildrenNow();
  uninstallHooks();
  // Our listener suppressed the default action; restore it unless someone else handles it.
  if (host.listenerCount(signal) === 0) host.kill(host.pid, signal);
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  host.on('exit', killLiveChildrenNow);
  for (const signal of FATAL_SIGNALS) host.on(signal, onSignal);
}

// Hooks live only while children do, so many test files in one worker never pile up listeners.
function uninstallHooks(): void {
  if (!hooksInstalled) return;
  hooksInstalled = false;
  host.off('exit', killLiveChildrenNow);
  for (const signal of FATAL_SIGNALS) host.off(signal, onSignal);
}

function track(child: ChildProcess, dir: string): void {
  liveChildren.set(child, dir);
  installHooks();
  const forget = (): void => {
    liveChildren.delete(child);
    if (liveChildren.size === 0) uninstallHooks();
  };
  child.once('exit', forget);
  // Also keeps a late 'error' (a failed kill) from being thrown as unhandled.
  child.on('error', () => {
    if (child.pid === undefined) forget();
  });
}

// A forgotten fleet must not keep the test process alive: the exit hook reaps it instead.
// Every wait below arms a real timer, which keeps the loop alive while it matters.
function detachFromEventLoop(child: ChildProcess): void {
  child.unref();
  for (const stream of [child.stdout, child.stderr]) {
    if (stream instanceof Socket) stream.unref();
  }
}

// ---------------------------------------------------------------------------------------------
// Small async helpers

class DeadlineError extends Error {}

function within<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new DeadlineError(message())), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  try {
    await within(promise, ms, () => 'timeout');
    return true;
  } catch (error) {
    if (error instanceof DeadlineError) return false;
    throw error;
  }
}

/** Bounded polling for states that have no event (replication link, cluster state). */
async function pollUntil(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
  intervalMs = 50,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (performance.now() >= deadline) {
      const cause = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await sleep(intervalMs);
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs all starters; if any fails, stops the ones that succeeded and rethrows. */
async function startAll<T extends { stop(): Promise<void> }>(
  starters: readonly (() => Promise<T>)[],
): Promise<T[]> {
  const results = await Promise.allSettled(starters.map((start) => start()));
  const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) {
    await Promise.allSettled(started.map((node) => node.stop()));
    throw failure.reason;
  }
  return started;
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}

// ---------------------------------------------------------------------------------------------
// Binaries

let redisServerChecked = false;

/** Throws the install hint when `redis-server` cannot run. */
export function requireRedisServer(): void {
  if (redisServerChecked) return;
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    const detail = probe.error ? errorMessage(probe.error) : probe.stderr.trim();
    throw new Error(`${REDIS_SERVER_MISSING} (${detail})`);
  }
  redisServerChecked = true;
}

function runRedisCli(args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', args, { timeout: timeoutMs }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const hint =
        'code' in error && error.code === 'ENOENT'
          ? ' (redis-cli missing: `apt-get install redis-tools`)'
          : '';
      reject(
        new Error(
          `redis-cli ${args.join(' ')} failed${hint}: ${error.message}\n${stdout}${stderr}`,
        ),
      );
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Local redis-server processes

class PortInUseError extends Error {}

const LOG_TAIL_LINES = 30;

/** One redis-server process at a time, restartable. */
class RedisProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private alive = false;
  private paused = false;
  private readonly log: string[] = [];

  constructor(private readonly label: () => string) {}

  get pid(): number | undefined {
    return this.alive ? this.child?.pid : undefined;
  }

  async start(argv: readonly string[], cwd: string, ready: RegExp, timeoutMs: number) {
    if (this.alive) throw new Error(`${this.label()} is already running`);
    this.log.length = 0;
    const child = spawn('redis-server', argv, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.alive = true;
    this.paused = false;
    track(child, cwd);

    const exit = new Promise<Error>((resolve) => {
      child.once('exit', (code, signal) => {
        const tail = this.tail();
        resolve(
          /Address already in use/.test(tail)
            ? new PortInUseError(`${this.label()}: address already in use`)
            : new Error(
                `${this.label()} exited (code ${code}, signal ${signal}) before it was ready${tail}`,
              ),
        );
      });
      child.once('error', (error) => {
        if (child.pid === undefined) resolve(error);
      });
    });
    this.exited = exit.then(() => {
      this.alive = false;
      this.paused = false;
    });

    const readyLine = new Promise<void>((resolve) => {
      for (const stream of [child.stdout, child.stderr]) {
        if (!stream) continue;
        createInterface({ input: stream }).on('line', (line) => {
          this.log.push(line);
          if (this.log.length > LOG_TAIL_LINES) this.log.shift();
          if (ready.test(line)) resolve();
        });
      }
    });
    detachFromEventLoop(child);

    try {
      await within(
        Promise.race([readyLine, exit.then((error) => Promise.reject(error))]),
        timeoutMs,
        () => `${this.label()} was not ready within ${timeoutMs} ms${this.tail()}`,
      );
    } catch (error) {
      if (error instanceof DeadlineError) await this.kill();
      throw error;
    }
  }

  async kill(): Promise<void> {
    if (!this.alive || !this.child) return;
    this.child.kill('SIGKILL');
    await within(this.exited, 5_000, () => `${this.label()} survived SIGKILL`);
  }

  /** SIGTERM for a clean shutdown, SIGKILL when it does not come. */
  async terminate(): Promise<void> {
    if (!this.alive || !this.child) return;
    if (this.paused) this.child.kill('SIGCONT');
    this.child.kill('SIGTERM');
    if (await settlesWithin(this.exited, STOP_GRACE_MS)) return;
    await this.kill();
  }

  async pause(): Promise<void> {
    const child = this.requireRunning();
    child.kill('SIGSTOP');
    this.paused = true;
    await waitForProcessState(child.pid!, true, this.label());
  }

  async resume(): Promise<void> {
    const child = this.requireRunning();
    child.kill('SIGCONT');
    this.paused = false;
    await waitForProcessState(child.pid!, false, this.label());
  }

  private requireRunning(): ChildProcess {
    if (!this.alive || !this.child) throw new Error(`${this.label()} is not running`);
    return this.child;
  }

  private tail(): string {
    return this.log.length > 0 ? `\n--- last log lines ---\n${this.log.join('\n')}` : '';
  }
}

// Signals are delivered asynchronously; /proc tells when the kernel has actually stopped or
// continued the process. Without /proc (macOS) we trust the signal.
async function waitForProcessState(pid: number, stopped: boolean, label: string): Promise<void> {
  const read = async (): Promise<string | undefined> => {
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    } catch {
      return undefined;
    }
  };
  await pollUntil(
    `${label} to be ${stopped ? 'stopped' : 'running'}`,
    2_000,
    async () => {
      const state = await read();
      return state === undefined || (state === 'T') === stopped;
    },
    5,
  );
}

interface LocalNodeSpec {
  label: string;
  /** Fixed by the caller (`--port` in args); otherwise picked free and retried on EADDRINUSE. */
  fixedPort?: number;
  /** Redis Cluster needs port + 10000 free as well. */
  companionOffset?: number;
  /** The command line for a given port and data directory. */
  argv: (port: number, dir: string) => Promise<readonly string[]>;
  ready: RegExp;
  password?: string;
  readyTimeoutMs: number;
}

type RedisArg = readonly [name: string, ...values: string[]];

/** `['port', '7000'], ['save', '']` -> `--port 7000 --save ''`. */
function redisArgs(...options: readonly RedisArg[]): string[] {
  return options.flatMap(([name, ...values]) => [`--${name}`, ...values]);
}

// Throwaway servers: nothing written to disk, reachable without protected mode's checks.
const DISPOSABLE: readonly RedisArg[] = [
  ['protected-mode', 'no'],
  ['save', ''],
  ['appendonly', 'no'],
];

// The ready line is how a start is detected, so logging must go to our pipe at notice level.
const LOG_TO_STDOUT: readonly RedisArg[] = [
  ['daemonize', 'no'],
  ['logfile', ''],
  ['loglevel', 'notice'],
];

function requirePass(password: string | undefined): RedisArg[] {
  return password === undefined ? [] : [['requirepass', password]];
}

function masterAuth(password: string | undefined): RedisArg[] {
  return password === undefined ? [] : [['masterauth', password]];
}

const SERVER_READY = /Ready to accept connections/;
const SENTINEL_READY = /Sentinel ID is/;

const CLIENT_DEFAULTS: RedisOptions = {
  // Assertion clients fail fast: a dead node should not stall a test for 20 retries.
  maxRetriesPerRequest: 1,
  connectTimeout: 2_000,
  retryStrategy: (times: number) => Math.min(times * 50, 500),
  // disconnect() arms a timer of this length for a socket that may already be closed, which
  // would hold the test process open for the default 2 s.
  disconnectTimeout: 100,
};

class LocalRedisNode implements RedisNode {
  readonly host = LOOPBACK;
  private currentPort = 0;
  private dir = '';
  private disposed = false;
  private readonly server = new RedisProcess(() => this.name);
  private readonly clients = new Set<Redis>();

  constructor(private readonly spec: LocalNodeSpec) {}

  get name(): string {
    return `${this.spec.label} (${this.host}:${this.currentPort})`;
  }

  get port(): number {
    return this.currentPort;
  }

  get password(): string | undefined {
    return this.spec.password;
  }

  get url(): string {
    const auth = this.password === undefined ? '' : `:${encodeURIComponent(this.password)}@`;
    return `redis://${auth}${this.host}:${this.currentPort}`;
  }

  get pid(): number | undefined {
    return this.server.pid;
  }

  /** First start: on EADDRINUSE a non-fixed port is swapped for another free one. */
  async start(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'redlock-redis-'));
    const offset = this.spec.companionOffset ?? 0;
    for (let attempt = 1; ; attempt++) {
      this.currentPort = this.spec.fixedPort ?? (await findFreePort({ companionOffset: offset }));
      try {
        await this.launch();
        return;
      } catch (error) {
        if (this.spec.fixedPort === undefined) releasePort(this.currentPort, offset);
        if (
          !(error instanceof PortInUseError) ||
          this.spec.fixedPort !== undefined ||
          attempt >= 5
        ) {
          await rm(this.dir, { recursive: true, force: true });
          throw error;
        }
      }
    }
  }

  kill(): Promise<void> {
    return this.server.kill();
  }

  pause(): Promise<void> {
    return this.server.pause();
  }

  resume(): Promise<void> {
    return this.server.resume();
  }

  async restart(): Promise<void> {
    if (this.disposed) throw new Error(`${this.name} was stopped; start a new fleet`);
    await this.server.kill();
    // Another process may have bound the port while the node was down. Moving would change
    // the node's identity, so retry on the same port until the deadline.
    const deadline = performance.now() + this.spec.readyTimeoutMs;
    for (;;) {
      try {
        return await this.launch();
      } catch (error) {
        if (!(error instanceof PortInUseError) || performance.now() > deadline) throw error;
        await sleep(50);
      }
    }
  }

  client(options: RedisOptions = {}): Redis {
    const client = new Redis({
      host: this.host,
      port: this.currentPort,
      password: this.password,
      ...CLIENT_DEFAULTS,
      ...options,
    });
    return trackClient(this.clients, client);
  }

  readonly stop = once(async () => {
    this.disposed = true;
    closeClients(this.clients);
    await this.server.terminate();
    await rm(this.dir, { recursive: true, force: true });
    if (this.spec.fixedPort === undefined) {
      releasePort(this.currentPort, this.spec.companionOffset ?? 0);
    }
  });

  private async launch(): Promise<void> {
    const argv = await this.spec.argv(this.currentPort, this.dir);
    await this.server.start(argv, this.dir, this.spec.ready, this.spec.readyTimeoutMs);
  }
}

// Errors surface through the rejected commands; unhandled 'error' events would only add noise.
function trackClient<C extends Redis | Cluster>(clients: Set<C>, client: C): C {
  client.on('error', () => undefined);
  clients.add(client);
  client.once('end', () => clients.delete(client));
  return client;
}

// disconnect(), not quit(): quit waits for a reply that a killed or paused node never sends.
function closeClients<C extends Redis | Cluster>(clients: Set<C>): void {
  for (const client of clients) client.disconnect();
  clients.clear();
}

function optionValue(args: readonly string[], name: string): string | undefined {
  const index = args.lastIndexOf(`--${name}`);
  return index >= 0 ? args[index + 1] : undefined;
}

interface ServerNodeSpec {
  label: string;
  args: readonly string[];
  password: string | undefined;
  fixedPort?: number;
  companionOffset?: number;
  readyTimeoutMs: number;
}

async function startLocalServer(spec: ServerNodeSpec): Promise<LocalRedisNode> {
  requireRedisServer();
  const node = new LocalRedisNode({
    label: spec.label,
    fixedPort: spec.fixedPort,
    companionOffset: spec.companionOffset,
    password: spec.password,
    readyTimeoutMs: spec.readyTimeoutMs,
    ready: SERVER_READY,
    argv: (port, dir) =>
      Promise.resolve([
        ...redisArgs(
          ['port', String(port)],
          ['bind', LOOPBACK],
          ...DISPOSABLE,
          ...requirePass(spec.password),
        ),
        ...spec.args,
        // Last, so extra args cannot hide the ready line or move the data out of the temp dir.
        ...redisArgs(['dir', dir], ...LOG_TO_STDOUT),
      ]),
  });
  await node.start();
  return node;
}

// ---------------------------------------------------------------------------------------------
// Docker (testcontainers), typed locally so the package stays optional.

// Containers need no exit hook: testcontainers' reaper (Ryuk) removes them when we go away.
interface StartedContainerLike {
  getId(): string;
  getHost(): string;
  restart(): Promise<void>;
  stop(): Promise<unknown>;
}

interface GenericContainerLike {
  withExposedPorts(...ports: { container: number; host: number }[]): GenericContainerLike;
  withCommand(command: string[]): GenericContainerLike;
  start(): Promise<StartedContainerLike>;
}

interface DockerodeContainerLike {
  kill(options?: { signal?: string }): Promise<unknown>;
  wait(options?: { condition?: string }): Promise<unknown>;
  pause(): Promise<unknown>;
  unpause(): Promise<unknown>;
}

interface TestcontainersLike {
  GenericContainer: new (image: string) => GenericContainerLike;
  getContainerRuntimeClient(): Promise<{
    container: { getById(id: string): DockerodeContainerLike };
  }>;
}

let testcontainers: Promise<TestcontainersLike> | undefined;

function loadTestcontainers(): Promise<TestcontainersLike> {
  // A variable specifier keeps tsc from resolving a package that is not installed.
  const specifier = 'testcontainers';
  testcontainers ??= (import(specifier) as Promise<TestcontainersLike>).catch((error) => {
    testcontainers = undefined;
    throw new Error(`${TESTCONTAINERS_MISSING} (${errorMessage(error)})`, { cause: error });
  });
  return testcontainers;
}

const CONTAINER_PORT = 6379;

class DockerRedisNode implements RedisNode {
  readonly pid = undefined;
  private paused = false;
  private readonly clients = new Set<Redis>();

  constructor(
    private readonly container: StartedContainerLike,
    private readonly docker: DockerodeContainerLike,
    private readonly label: string,
    readonly port: number,
    readonly password: string | undefined,
    private readonly readyTimeoutMs: number,
  ) {}

  get host(): string {
    return this.container.getHost();
  }

  get name(): string {
    return `${this.label} (${this.host}:${this.port}, container ${this.container.getId().slice(0, 12)})`;
  }

  get url(): string {
    const auth = this.password === undefined ? '' : `:${encodeURIComponent(this.password)}@`;
    return `redis://${auth}${this.host}:${this.port}`;
  }

  async kill(): Promise<void> {
    await this.docker.kill({ signal: 'SIGKILL' });
    await this.docker.wait({ condition: 'not-running' });
    this.paused = false;
  }

  async pause(): Promise<void> {
    await this.docker.pause();
    this.paused = true;
  }

  async resume(): Promise<void> {
    await this.docker.unpause();
    this.paused = false;
  }

  async restart(): Promise<void> {
    if (this.paused) await this.resume();
    await this.container.restart();
    await this.waitUntilAnswering();
  }

  client(options: RedisOptions = {}): Redis {
    const client = new Redis({
      host: this.host,
      port: this.port,
      password: this.password,
      ...CLIENT_DEFAULTS,
      ...options,
    });
    return trackClient(this.clients, client);
  }

  readonly stop = once(async () => {
    closeClients(this.clients);
    if (this.paused) await this.resume().catch(() => undefined);
    // testcontainers' default stop skips the grace period (`docker stop -t 0`): no data to
    // flush, and its timeout unit has changed between versions.
    await this.container.stop();
    releasePort(this.port);
  });

  async waitUntilAnswering(): Promise<void> {
    const probe = this.client({ lazyConnect: true, connectTimeout: 500, maxRetriesPerRequest: 0 });
    try {
      await pollUntil(`${this.name} to answer PING`, this.readyTimeoutMs, async () => {
        if (probe.status !== 'ready') await probe.connect();
        return (await probe.ping()) === 'PONG';
      });
    } finally {
      probe.disconnect();
    }
  }
}

async function startDockerServer(
  spec: ServerNodeSpec & { image: string },
): Promise<DockerRedisNode> {
  const tc = await loadTestcontainers();
  // A fixed host port keeps `port` stable across restart(); Docker would remap a random one.
  const port = spec.fixedPort ?? (await findFreePort());
  const container = await new tc.GenericContainer(spec.image)
    .withExposedPorts({ container: CONTAINER_PORT, host: port })
    .withCommand([
      'redis-server',
      ...redisArgs(...DISPOSABLE, ...requirePass(spec.password)),
      ...spec.args,
    ])
    .start();
  const runtime = await tc.getContainerRuntimeClient();
  const node = new DockerRedisNode(
    container,
    runtime.container.getById(container.getId()),
    spec.label,
    port,
    spec.password,
    spec.readyTimeoutMs,
  );
  try {
    await node.waitUntilAnswering();
  } catch (error) {
    await node.stop();
    throw error;
  }
  return node;
}

// ---------------------------------------------------------------------------------------------
// Standalone fleet

export async function startRedisFleet(options: RedisFleetOptions = {}): Promise<RedisFleet> {
  const count = options.nodes ?? 1;
  if (!Number.isInteger(count) || count < 1) {
    throw new Error(`startRedisFleet: nodes must be a positive integer, got ${count}`);
  }
  const args = options.args ?? [];
  const portArg = optionValue(args, 'port');
  const fixedPort = portArg === undefined ? undefined : Number(portArg);
  if (fixedPort !== undefined && (!Number.isInteger(fixedPort) || count !== 1)) {
    throw new Error(`startRedisFleet: --port ${portArg} needs nodes: 1 and an integer port`);
  }
  const password = options.password ?? optionValue(args, 'requirepass');
  const docker = options.docker ?? dockerRequested();
  const readyTimeoutMs = options.readyTimeoutMs ?? READY_TIMEOUT_MS;

  const nodes = await startAll<RedisNode>(
    Array.from({ length: count }, (_, index) => () => {
      const spec = { label: `redis-${index + 1}`, args, password, fixedPort, readyTimeoutMs };
      return docker
        ? startDockerServer({ ...spec, image: options.image ?? 'redis:7' })
        : startLocalServer(spec);
    }),
  );
  const stop = once(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  });
  return {
    nodes,
    get urls() {
      return nodes.map((node) => node.url);
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

// ---------------------------------------------------------------------------------------------
// Redis Cluster

async function clusterInfo(client: Redis): Promise<Record<string, string>> {
  const text = String(await client.call('CLUSTER', 'INFO'));
  return Object.fromEntries(
    text
      .split(/\r?\n/)
      .filter((line) => line.includes(':'))
      .map((line) => {
        const [key = '', value = ''] = line.split(':');
        return [key, value.trim()];
      }),
  );
}

async function waitForClusterOk(nodes: readonly RedisNode[], timeoutMs: number): Promise<void> {
  const probes = nodes
    .filter((node) => node.pid !== undefined)
    .map((node) => node.client({ maxRetriesPerRequest: 0 }));
  try {
    await pollUntil('cluster_state:ok on every node', timeoutMs, async () => {
      const infos = await Promise.all(probes.map(clusterInfo));
      return infos.every((info) => info.cluster_state === 'ok');
    });
  } finally {
    for (const probe of probes) probe.disconnect();
  }
}

export async function startRedisCluster(
  options: RedisClusterFleetOptions = {},
): Promise<RedisClusterFleet> {
  const masters = options.masters ?? 3;
  if (!Number.isInteger(masters) || masters < 3) {
    throw new Error(`startRedisCluster: needs at least 3 masters, got ${masters}`);
  }
  const readyTimeoutMs = options.readyTimeoutMs ?? READY_TIMEOUT_MS;
  const password = options.password;
  const nodes = await startAll(
    Array.from(
      { length: masters },
      (_, index) => () =>
        startLocalServer({
          label: `cluster-${index + 1}`,
          password,
          readyTimeoutMs,
          companionOffset: CLUSTER_BUS_OFFSET,
          args: [
            ...redisArgs(
              ['cluster-enabled', 'yes'],
              ['cluster-config-file', 'nodes.conf'],
              ['cluster-node-timeout', '2000'],
              ...masterAuth(password),
            ),
            ...(options.args ?? []),
          ],
        }),
    ),
  );
  const clients = new Set<Cluster>();
  const stop = once(async () => {
    closeClients(clients);
    await Promise.all(nodes.map((node) => node.stop()));
  });
  const startupNodes = nodes.map((node) => ({ host: node.host, port: node.port }));

  try {
    const hostPorts = startupNodes.map(({ host, port }) => `${host}:${port}`);
    const auth = password === undefined ? [] : ['-a', password, '--no-auth-warning'];
    await runRedisCli(
      ['--cluster', 'create', ...hostPorts, '--cluster-replicas', '0', '--cluster-yes', ...auth],
      readyTimeoutMs,
    );
    await waitForClusterOk(nodes, readyTimeoutMs);
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    nodes,
    startupNodes,
    client(clusterOptions: ClusterOptions = {}): Cluster {
      const cluster = new Cluster(startupNodes.slice(), {
        ...clusterOptions,
        redisOptions: {
          password,
          connectTimeout: 2_000,
          disconnectTimeout: 100,
          ...clusterOptions.redisOptions,
        },
      });
      return trackClient(clients, cluster);
    },
    waitUntilOk: (timeoutMs = readyTimeoutMs) => waitForClusterOk(nodes, timeoutMs),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

// ---------------------------------------------------------------------------------------------
// Sentinel

async function waitForReplicaInSync(replica: RedisNode, timeoutMs: number): Promise<void> {
  const probe = replica.client({ maxRetriesPerRequest: 0 });
  try {
    await pollUntil(`${replica.name} to sync with its master`, timeoutMs, async () =>
      /master_link_status:up/.test(await probe.info('replication')),
    );
  } finally {
    probe.disconnect();
  }
}

export async function startRedisSentinel(
  options: RedisSentinelFleetOptions = {},
): Promise<RedisSentinelFleet> {
  const name = options.name ?? 'mymaster';
  const sentinelCount = options.sentinels ?? 3;
  const quorum = options.quorum ?? 2;
  const password = options.password;
  const readyTimeoutMs = options.readyTimeoutMs ?? READY_TIMEOUT_MS;
  const authArgs = redisArgs(...masterAuth(password));

  const started: RedisNode[] = [];
  const clients = new Set<Redis>();
  const stop = once(async () => {
    closeClients(clients);
    await Promise.all(started.map((node) => node.stop()));
  });

  try {
    const master = await startLocalServer({
      label: 'sentinel-master',
      // The default 5 s delay waits for more replicas to batch a diskless sync; there is one.
      args: [...authArgs, '--repl-diskless-sync-delay', '0'],
      password,
      readyTimeoutMs,
    });
    started.push(master);
    const replica = await startLocalServer({
      label: 'sentinel-replica',
      args: [...authArgs, '--replicaof', master.host, String(master.port)],
      password,
      readyTimeoutMs,
    });
    started.push(replica);
    // Sentinels start after the sync so their first INFO to the master already lists the
    // replica; otherwise they learn of it only at the next INFO, 10 s later.
    await waitForReplicaInSync(replica, readyTimeoutMs);

    const sentinelNodes = await startAll(
      Array.from({ length: sentinelCount }, (_, index) => async () => {
        const node = new LocalRedisNode({
          label: `sentinel-${index + 1}`,
          readyTimeoutMs,
          ready: SENTINEL_READY,
          argv: sentinelArgv(name, master, quorum, password),
        });
        await node.start();
        return node;
      }),
    );
    started.push(...sentinelNodes);
    const sentinels = sentinelNodes.map((node) => ({ host: node.host, port: node.port }));

    const probes = sentinelNodes.map((node) => node.client({ maxRetriesPerRequest: 0 }));
    try {
      await pollUntil(
        `every sentinel to report ${name} at ${master.port}`,
        readyTimeoutMs,
        async () => {
          const answers = await Promise.all(
            probes.map((probe) => probe.call('SENTINEL', 'get-master-addr-by-name', name)),
          );
          return answers.every(
            (answer) =>
              Array.isArray(answer) &&
              answer[0] === master.host &&
              answer[1] === String(master.port),
          );
        },
      );
      if (options.awaitDiscovery ?? true) {
        // Until sentinels know each other they cannot agree the master is down, so a
        // failover test started earlier would wait forever. Hellos go out every 2 s.
        await pollUntil(
          `sentinels to discover the replica and each other`,
          readyTimeoutMs,
          async () => {
            const views = await Promise.all(
              probes.map(async (probe) => ({
                replicas: await probe.call('SENTINEL', 'replicas', name),
                peers: await probe.call('SENTINEL', 'sentinels', name),
              })),
            );
            return views.every(
              ({ replicas, peers }) =>
                Array.isArray(replicas) &&
                replicas.length === 1 &&
                Array.isArray(peers) &&
                peers.length === sentinelCount - 1,
            );
          },
        );
      }
    } finally {
      for (const probe of probes) probe.disconnect();
    }

    return {
      name,
      master,
      replica,
      sentinels,
      sentinelNodes,
      client(clientOptions: RedisOptions = {}): Redis {
        const client = new Redis({
          sentinels: sentinels.slice(),
          name,
          password,
          ...CLIENT_DEFAULTS,
          ...clientOptions,
        });
        return trackClient(clients, client);
      },
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function sentinelArgv(
  name: string,
  master: RedisNode,
  quorum: number,
  password: string | undefined,
): (port: number, dir: string) => Promise<readonly string[]> {
  // Sentinel rewrites its config file with what it learns; keep that across restart() and
  // write a fresh file only when the port changes.
  let writtenFor: number | undefined;
  return async (port, dir) => {
    const conf = join(dir, 'sentinel.conf');
    if (writtenFor !== port) {
      const lines = [
        `port ${port}`,
        `bind ${LOOPBACK}`,
        'protected-mode no',
        `dir ${dir}`,
        `sentinel monitor ${name} ${master.host} ${master.port} ${quorum}`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 5000`,
        ...(password === undefined ? [] : [`sentinel auth-pass ${name} ${password}`]),
      ];
      await writeFile(conf, `${lines.join('\n')}\n`);
      writtenFor = port;
    }
    return [conf, '--sentinel', ...redisArgs(...LOG_TO_STDOUT)];
  };
}
