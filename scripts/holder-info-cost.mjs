/* global console -- a Node script: the shared ESLint config lists only a few globals for .mjs files */
// What holder information costs on the uncontended path, three ways:
//  1. making the owner value: plain 128-bit token vs token + instance tag + acquisition time;
//  2. an uncontended acquire+release on the memory store, engine with holderInfo on vs off;
//  3. the same on a real redis-server (one `SET NX PX GET` + the release script per lock),
//     with concurrent callers, where the only differences are the value's 40 bytes instead of
//     22 on the wire (SET, release) and the record written once per node at the first lock.
// Rounds are interleaved so machine noise hits both sides alike; the cost is the median of the
// per-round ratios (min to max beside it), next to the same ratio between two plain engines.
// Run: node --import ./test/reliability/ts-register.mjs scripts/holder-info-cost.mjs
import { performance } from 'node:perf_hooks';
import { createLockAdapter, MemoryLockAdapter, Redlock } from '../lib/index.js';
import { ownerValue } from '../lib/services/owner-value.js';
import { startRedisFleet } from '../test/support/redis-fleet.js';

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const ROUNDS = Number(process.env.ROUNDS ?? 9);

// 1. The value, per call.
const clock = { wallNow: () => Date.now() };
let sink = 0;
const perValue = (make) => {
  const calls = 2_000_000;
  const start = performance.now();
  for (let i = 0; i < calls; i += 1) sink += make().length;
  return ((performance.now() - start) * 1e6) / calls;
};
const values = { off: [], on: [] };
for (let round = 0; round < ROUNDS; round += 1) {
  values.off.push(perValue(() => ownerValue()));
  values.on.push(perValue(() => ownerValue('k9Df0aZ1', clock)));
}
console.log(
  `ownerValue: ${median(values.off).toFixed(0)} ns plain, ${median(values.on).toFixed(0)} ns with holder info (${(median(values.on) - median(values.off)).toFixed(0)} ns more)`,
);

// 2 and 3. Locks per second, one engine per side over the same nodes.
async function throughput(redlock, prefix, ms, inFlight, cpu) {
  let done = 0;
  const used = process.cpuUsage();
  const until = performance.now() + ms;
  await Promise.all(
    Array.from({ length: inFlight }, async (_, worker) => {
      for (let i = 0; performance.now() < until; i += 1) {
        const lock = await redlock.acquire(`${prefix}:${worker}:${i & 63}`, { ttl: 10_000 });
        await lock.release();
        done += 1;
      }
    }),
  );
  const spent = process.cpuUsage(used);
  cpu?.push((spent.user + spent.system) / done);
  return (done * 1_000) / ms;
}
async function compare(title, adapters, ms, inFlight) {
  // `control` is a second plain engine: how far two identical sides drift apart is the noise
  // floor of this machine, against which the holder-info difference must be read.
  const engines = {
    on: new Redlock(adapters),
    off: new Redlock(adapters, { holderInfo: false }),
    control: new Redlock(adapters, { holderInfo: false }),
  };
  const sides = Object.keys(engines);
  for (const side of sides) await throughput(engines[side], `warm-${side}`, 300, inFlight);
  const rounds = { on: [], off: [], control: [] };
  const cpu = { on: [], off: [], control: [] };
  for (let round = 0; round < ROUNDS; round += 1) {
    // Rotate the order so no side always runs first (or last) in a round.
    const order = sides.map((_, i) => sides[(i + round) % sides.length]);
    for (const side of order) {
      rounds[side].push(await throughput(engines[side], side, ms, inFlight, cpu[side]));
    }
  }
  for (const engine of Object.values(engines)) await engine.close();
  // Paired per round: each round's ratio to the plain side of the same round, so a machine
  // that slows down between rounds moves both sides of the ratio alike.
  const paired = (side) => rounds[side].map((rate, round) => 1 - rate / rounds.off[round]);
  const pct = (values) =>
    `${(median(values) * 100).toFixed(1)} % (${(Math.min(...values) * 100).toFixed(1)} to ${(Math.max(...values) * 100).toFixed(1)})`;
  const us = (side) => median(cpu[side]).toFixed(1);
  console.log(
    `${title}: plain ${median(rounds.off).toFixed(0)} locks/s; cost of holder info ${pct(paired('on'))}; ` +
      `a second plain engine, for the noise: ${pct(paired('control'))}; ` +
      `client CPU ${us('off')} / ${us('on')} / ${us('control')} µs per lock (plain / holder info / plain)`,
  );
}

const memory = new MemoryLockAdapter();
await compare('memory store, 1 caller', [memory], 300, 1);
await memory.close();

const fleet = await startRedisFleet({ nodes: 1 });
try {
  const adapter = createLockAdapter(fleet.urls[0]);
  await adapter.ready(5_000);
  await compare('redis-server, 32 callers', [adapter], 1_000, 32);
  await compare('redis-server, 1 caller', [adapter], 1_000, 1);
  await adapter.close();
} finally {
  await fleet.stop();
}
if (sink === 0) console.log('');
