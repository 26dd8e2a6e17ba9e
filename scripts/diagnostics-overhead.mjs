// What the diagnostics channels cost when nobody subscribes, two ways:
//  1. the publish call itself, per engine event, against an empty function;
//  2. an uncontended acquire+release on the memory store (two events each), with the engine
//     publishing vs the engine not publishing (its private `publishes` flag off), rounds
//     interleaved so machine noise hits both alike.
// Run: node --import ./test/reliability/ts-register.mjs scripts/diagnostics-overhead.mjs
import { channel } from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import { MemoryLockAdapter, REDLOCK_CHANNELS, Redlock } from '../lib/index.js';
import { publishRedlockEvent } from '../lib/observability/diagnostics-publisher.js';

for (const name of Object.values(REDLOCK_CHANNELS)) {
  if (channel(name).hasSubscribers) throw new Error(`${name} has a subscriber`);
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

// 1. The call, per event.
const events = [
  { type: 'acquired', resources: ['a'], fencingToken: undefined, attempts: 1, waited: 0.2 },
  { type: 'released', resources: ['a'], status: 'released', held: 1 },
];
const lease = { mode: 'write', fencingToken: undefined };
let sink = 0;
const empty = (event) => {
  sink += event.type.length;
};
const publish = (event, l) => {
  sink += event.type.length;
  publishRedlockEvent(event, l);
};
const CALLS = 5_000_000;
const perCall = (fn) => {
  const start = performance.now();
  for (let i = 0; i < CALLS; i += 1) fn(events[i & 1], lease);
  return ((performance.now() - start) * 1e6) / CALLS;
};
const callRounds = { empty: [], publish: [] };
for (let round = 0; round < 7; round += 1) {
  callRounds.empty.push(perCall(empty));
  callRounds.publish.push(perCall(publish));
}
const nsEmpty = median(callRounds.empty);
const nsPublish = median(callRounds.publish);

// 2. Acquire + release on the memory store.
const CYCLES = 20_000;
const cycles = async (redlock) => {
  const start = performance.now();
  for (let i = 0; i < CYCLES; i += 1) {
    const lock = await redlock.acquire('bench:overhead');
    await lock.release();
  }
  return ((performance.now() - start) * 1e3) / CYCLES;
};
const publishing = new Redlock([new MemoryLockAdapter()]);
const silent = new Redlock([new MemoryLockAdapter()]);
silent.publishes = false;
await cycles(publishing);
await cycles(silent);
const rounds = { publishing: [], silent: [] };
for (let round = 0; round < 15; round += 1) {
  rounds.publishing.push(await cycles(publishing));
  rounds.silent.push(await cycles(silent));
}
const usPublishing = median(rounds.publishing);
const usSilent = median(rounds.silent);

process.stdout.write(
  JSON.stringify(
    {
      node: process.version,
      perEvent: {
        emptyCallNs: +nsEmpty.toFixed(2),
        publishCallNs: +nsPublish.toFixed(2),
        overheadNs: +(nsPublish - nsEmpty).toFixed(2),
      },
      memoryAcquireRelease: {
        silentUs: +usSilent.toFixed(3),
        publishingUs: +usPublishing.toFixed(3),
        overheadPercent: +((usPublishing / usSilent - 1) * 100).toFixed(2),
      },
      sink: sink > 0,
    },
    null,
    2,
  ) + '\n',
);
await Promise.all([publishing.close(), silent.close()]);
