// One application instance in its own process, for multi-instance.spec.ts:
// `node --import ../../reliability/ts-register.mjs instance-worker.mjs` (TypeScript sources
// compiled on load). INSTANCE_SKEW_MS moves this process's wall clock before anything reads
// it, so @nestjs/schedule's cron (through luxon), the engine's wall clock and the reports all
// see the same skewed time; monotonic time (timers, lock validity) is untouched.
const skew = Number(process.env.INSTANCE_SKEW_MS ?? 0);
const RealDate = Date;
class SkewedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(RealDate.now() + skew);
    else super(...args);
  }

  static now() {
    return RealDate.now() + skew;
  }
}
globalThis.Date = SkewedDate;

const { startInstance } = await import('./instance-app.js');
const app = await startInstance(JSON.parse(process.env.INSTANCE_CONFIG ?? '{}'));
process.send({ type: 'ready', pid: process.pid });

process.on('message', (message) => {
  if (message.type !== 'close') return;
  void app.close().then(() => {
    process.send({ type: 'closed', pid: process.pid });
    process.disconnect();
  });
});
