/* global clearTimeout */
// A lock client in its own process for the cross-process suite (cross-process.spec.ts): one
// Redlock engine on the library's sources (compiled on load, see ts-hooks.mjs), connected to
// the Redis nodes through the ports the parent gives it (fault proxies of its own).
//
// Critical sections are reported to the parent's witness over IPC, and each waits for the
// parent's acknowledgement before it goes on: `enter` is acknowledged before the section works,
// `exit` before the lock is released. So the order the witness sees is the real order: any
// overlap it reports happened. Operations are drawn from a PRNG seeded by the parent, so a
// scenario's operation sequence replays with its seed.
import { Redis } from 'ioredis';
import { IoredisLockAdapter } from '../../lib/adapters/ioredis.adapter.js';
import { RedlockError } from '../../lib/redlock.errors.js';
import { Redlock } from '../../lib/services/redlock.engine.js';

const config = JSON.parse(process.env.RELIABILITY_WORKER ?? '{}');

// Wall clock of this process, movable by the parent ('clock'): the engine must not care.
let clockOffset = 0;
const realNow = Date.now.bind(Date);
Date.now = () => realNow() + clockOffset;
/** A clock shared by all processes of the machine, for the witness: never moved. */
const epoch = () => performance.timeOrigin + performance.now();

const clients = config.ports.map((port) => {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
    disconnectTimeout: 200,
    retryStrategy: (attempt) => Math.min(20 * attempt, 200),
  });
  client.on('error', () => undefined);
  return client;
});
const adapters = clients.map((client) => new IoredisLockAdapter(client, { owned: true }));
const redlock = new Redlock(adapters, {
  lock: config.lock,
  circuitBreaker: false,
  logger: { log() {}, warn() {}, error() {} },
  // A renewed lock is valid for longer: the witness learns it (without waiting for an answer).
  onEvent: (event) => {
    if (event.type !== 'extended') return;
    const validUntil = epoch() + (event.expiresAt - Date.now());
    for (const resource of event.resources) {
      process.send({ type: 'renewed', worker: config.id, resource, validUntil });
    }
  },
});

// mulberry32: the operation sequence of this worker, from the parent's seed.
let state = (config.seed ^ (config.id * 0x9e3779b9)) >>> 0;
function random() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

const stats = {
  worker: config.id,
  sections: 0,
  reads: 0,
  errors: {},
  unexpected: [],
  maxSettleMs: 0,
  pausedSignalAborted: 0,
  pausedSignalNotAborted: 0,
};
let running = false;
let deadline = 0;
let blockNextMs = 0;
let lingerNextMs = 0;
let crashWhenHolding = false;
let seq = 0;
const waiting = new Map();

/** Sends to the parent and waits for its acknowledgement. */
function request(message) {
  seq += 1;
  const id = seq;
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    process.send({ ...message, seq: id, worker: config.id });
  });
}

process.on('message', (message) => {
  switch (message.type) {
    case 'ack': {
      const resolve = waiting.get(message.seq);
      waiting.delete(message.seq);
      resolve?.(message);
      break;
    }
    case 'run':
      deadline = performance.now() + message.ms;
      if (!running) void run();
      break;
    case 'block':
      blockNextMs = message.ms;
      break;
    case 'linger':
      lingerNextMs = message.ms;
      break;
    case 'crash-when-holding':
      crashWhenHolding = true;
      break;
    case 'clock':
      clockOffset = message.offsetMs;
      break;
    case 'close':
      void close();
      break;
  }
});

function busyWait(ms) {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // a blocked event loop: no timer, no I/O callback runs
  }
}

function tokenOf(lock) {
  try {
    return lock.fencingToken;
  } catch {
    return undefined;
  }
}

function pause(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

/** One witnessed critical section; leaves as soon as the lock's signal aborts. */
async function section(lock, resource, mode, linger = 0, block = 0) {
  lock.signal.throwIfAborted();
  const validUntil = epoch() + (lock.expiresAt - Date.now());
  const token = tokenOf(lock);
  await request({ type: 'enter', resource, mode, token, validUntil, linger, at: epoch() });
  if (crashWhenHolding) {
    process.send({ type: 'holding', worker: config.id, at: epoch() });
    await new Promise(() => undefined); // the parent SIGKILLs us here, lock held
  }
  try {
    if (block > 0) {
      busyWait(block);
      // The first look at the signal after the pause must already tell the loss.
      if (lock.signal.aborted) stats.pausedSignalAborted += 1;
      else stats.pausedSignalNotAborted += 1;
      // A careless holder writes anyway: the fenced store must refuse it.
      await request({ type: 'write', resource, token, late: true, at: epoch() });
      return;
    }
    // A lingering section (told by the parent) holds on until its lock is lost.
    await pause(linger > 0 ? linger : Math.floor(random() * 4), lock.signal);
    if (mode === 'write') await request({ type: 'write', resource, token, at: epoch() });
    stats.sections += 1;
    if (mode === 'read') stats.reads += 1;
  } finally {
    await request({ type: 'exit', resource, mode, at: epoch() });
  }
}

function recordError(error, started) {
  const name = error instanceof RedlockError ? error.name : 'untyped';
  stats.errors[name] = (stats.errors[name] ?? 0) + 1;
  stats.maxSettleMs = Math.max(stats.maxSettleMs, performance.now() - started);
  if (!(error instanceof RedlockError)) stats.unexpected.push(String(error?.stack ?? error));
}

async function operation() {
  const resource = config.resources[Math.floor(random() * config.resources.length)];
  if (blockNextMs > 0) {
    // The paused section is a fenced write, so its late write is always put to the store.
    const block = blockNextMs;
    blockNextMs = 0;
    await redlock.using(resource, (lock) => section(lock, resource, 'write', 0, block), {
      fencing: true,
    });
    return;
  }
  if (lingerNextMs > 0) {
    const linger = lingerNextMs;
    lingerNextMs = 0;
    await redlock.using(resource, (lock) => section(lock, resource, 'write', linger), {
      fencing: true,
    });
    return;
  }
  const mode = random() < config.readShare ? 'read' : 'write';
  const fencing = random() < 0.8;
  const kind = random();
  const started = performance.now();
  if (kind < 0.5) {
    await redlock.using(resource, (lock) => section(lock, resource, mode), { mode, fencing });
    return;
  }
  const lock =
    kind < 0.85
      ? await redlock.acquire(resource, { mode, fencing })
      : await redlock.tryAcquire(resource, { mode, fencing });
  if (!lock) return;
  try {
    await section(lock, resource, mode);
  } finally {
    await lock.release().catch((error) => recordError(error, started));
  }
  void started;
}

async function run() {
  running = true;
  while (performance.now() < deadline) {
    const started = performance.now();
    try {
      await operation();
    } catch (error) {
      recordError(error, started);
      await pause(2);
    }
  }
  running = false;
  process.send({ type: 'stats', stats: { ...stats, maxSettleMs: Math.round(stats.maxSettleMs) } });
  stats.sections = 0;
  stats.reads = 0;
  stats.errors = {};
  stats.unexpected = [];
  stats.maxSettleMs = 0;
  stats.pausedSignalAborted = 0;
  stats.pausedSignalNotAborted = 0;
}

async function close() {
  await redlock.close();
  await Promise.all(adapters.map((adapter) => adapter.close()));
  for (const client of clients) client.disconnect();
  process.send({ type: 'closed' }, () => process.disconnect());
}

// The parent went away (crashed, or was killed): never outlive it.
process.on('disconnect', () => process.exit(0));

await Promise.all(adapters.map((adapter) => adapter.ready?.(5_000)));
process.send({ type: 'ready', worker: config.id });
