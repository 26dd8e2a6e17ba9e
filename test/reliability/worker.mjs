// A lock client in its own process for the mutual-exclusion checker. Plain JavaScript on the
// built library (dist/), so the checker runs real separate Node processes, as production does.
// The parent sends commands over IPC; the worker reports what it saw. See checker.spec.ts.
import { Redis } from 'ioredis';
import { createLockAdapter, Redlock, RedlockError } from '../../dist/lib/index.js';

const config = JSON.parse(process.env.RELIABILITY_WORKER ?? '{}');
const data = new Redis(config.dataUrl, { maxRetriesPerRequest: 1 });
data.on('error', () => undefined);
// The fenced store: accepts a write only with a token at least as high as any it has accepted.
data.defineCommand('fencedWrite', {
  numberOfKeys: 1,
  lua: `local last = tonumber(redis.call('GET', KEYS[1]) or '0')
        if tonumber(ARGV[1]) < last then return 0 end
        redis.call('SET', KEYS[1], ARGV[1])
        return 1`,
});

const adapters = config.lockUrls.map((url) => createLockAdapter(url));
const redlock = new Redlock(adapters, { lock: config.lock });

const stats = {
  worker: config.id,
  criticalSections: 0,
  violations: 0, // occupancy read other than 1 inside a critical section
  fencedRejectedWhileHeld: 0, // a live holder's write refused: tokens out of order
  staleRejected: 0, // a paused holder's late write refused, as it must be
  staleAccepted: 0, // a paused holder's late write accepted after a successor's: a failure
  pausedSignalAborted: 0,
  pausedSignalNotAborted: 0,
  errors: {},
  unexpected: [],
  maxSettleMs: 0,
  reads: 0,
  writes: 0,
  maxWriteWaitMs: 0,
};
let running = false;
let blockNextMs = 0;
let crashWhenHolding = false;
let reportAcquisitions = false;
let clockOffset = 0;
const realNow = Date.now.bind(Date);
Date.now = () => realNow() + clockOffset;

process.on('message', (message) => {
  switch (message.type) {
    case 'run':
      if (!running) void run();
      break;
    case 'stop':
      running = false;
      break;
    case 'block':
      blockNextMs = message.ms;
      break;
    case 'crash-when-holding':
      crashWhenHolding = true;
      break;
    case 'report-acquisitions':
      reportAcquisitions = message.on;
      break;
    case 'clock':
      clockOffset = message.offsetMs;
      break;
  }
});

function pick() {
  const { resources } = config;
  return resources[Math.floor(Math.random() * resources.length)];
}

function busyWait(ms) {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // a blocked event loop: no timer, no I/O callback runs
  }
}

// Read-write mode: readers may overlap each other but never a writer; writers overlap nobody.
async function readWriteSection(resource, lock) {
  if (lock.mode === 'read') {
    await data.incr(`readers:${resource}`);
    if (Number(await data.get(`occ:${resource}`)) !== 0) stats.violations += 1;
    await new Promise((resolve) => setImmediate(resolve));
    if (Number(await data.get(`occ:${resource}`)) !== 0) stats.violations += 1;
    await data.decr(`readers:${resource}`);
    stats.reads += 1;
    return false; // not counted: readers do not touch the shared counter
  }
  stats.writes += 1;
  if (Number(await data.get(`readers:${resource}`)) !== 0) stats.violations += 1;
  return criticalSection(resource, lock);
}

async function criticalSection(resource, lock) {
  const seen = await data.incr(`acq:${resource}`);
  if (blockNextMs > 0) {
    const ms = blockNextMs;
    blockNextMs = 0;
    busyWait(ms);
    // Let the lease's overdue timer run (timers fire in due order): it aborts the signal.
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (lock.signal.aborted) stats.pausedSignalAborted += 1;
    else stats.pausedSignalNotAborted += 1;
    // A careless holder writes anyway: the fenced store must refuse it if a successor wrote.
    const accepted = await data.fencedWrite(`fence:${resource}`, lock.fencingToken);
    const successor = Number(await data.get(`acq:${resource}`)) > seen;
    if (accepted === 1 && successor) stats.staleAccepted += 1;
    if (accepted === 0) stats.staleRejected += 1;
    return false;
  }
  const occupancy = await data.incr(`occ:${resource}`);
  if (occupancy !== 1) stats.violations += 1;
  const value = Number((await data.get(`cnt:${resource}`)) ?? 0);
  await new Promise((resolve) => setImmediate(resolve)); // room for an interleaving
  await data.set(`cnt:${resource}`, String(value + 1));
  const accepted = await data.fencedWrite(`fence:${resource}`, lock.fencingToken);
  if (accepted === 0) stats.fencedRejectedWhileHeld += 1;
  await data.decr(`occ:${resource}`);
  return true;
}

async function run() {
  running = true;
  const quota = config.quota ?? Infinity;
  while (running && stats.criticalSections < quota) {
    const resource = pick();
    const started = performance.now();
    let lock;
    const mode = config.readWrite && Math.random() < 0.7 ? 'read' : 'write';
    try {
      lock = await redlock.acquire(resource, { mode });
      if (mode === 'write') {
        stats.maxWriteWaitMs = Math.max(stats.maxWriteWaitMs, performance.now() - started);
      }
    } catch (error) {
      const settle = performance.now() - started;
      stats.maxSettleMs = Math.max(stats.maxSettleMs, settle);
      const name = error instanceof RedlockError ? error.name : 'untyped';
      stats.errors[name] = (stats.errors[name] ?? 0) + 1;
      if (!(error instanceof RedlockError)) stats.unexpected.push(String(error));
      await new Promise((resolve) => setTimeout(resolve, 5));
      continue;
    }
    if (reportAcquisitions) process.send({ type: 'acquired', worker: config.id, at: realNow() });
    if (crashWhenHolding) {
      process.send({ type: 'holding', worker: config.id, at: realNow(), stats });
      await new Promise(() => undefined); // the parent SIGKILLs us here, lock held
    }
    try {
      const section = config.readWrite ? readWriteSection : criticalSection;
      if (await section(resource, lock)) stats.criticalSections += 1;
    } catch (error) {
      stats.unexpected.push(`critical section: ${String(error)}`);
    } finally {
      await lock.release().catch(() => undefined);
    }
  }
  await redlock.close();
  await Promise.all(adapters.map((adapter) => adapter.close()));
  await data.quit();
  process.send({ type: 'stats', stats }, () => process.exit(0));
}

process.send({ type: 'ready' });
