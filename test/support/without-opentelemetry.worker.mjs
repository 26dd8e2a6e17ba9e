// Run by test/integration/without-opentelemetry.spec.ts under hide-opentelemetry.mjs: uses the
// library with @opentelemetry/api absent and prints what happened as one JSON line.
import 'reflect-metadata';
import { subscribe } from 'node:diagnostics_channel';

const out = {};
try {
  await import('@opentelemetry/api');
  out.apiLoads = true;
} catch (error) {
  out.apiLoads = false;
  out.apiError = error.code;
}

const lib = await import('../../lib/index.js');
const { Redlock, createLockAdapter, REDLOCK_CHANNELS, instrumentRedlock, RedlockConfigError } = lib;

const messages = [];
for (const name of ['acquire', 'release']) {
  subscribe(REDLOCK_CHANNELS[name], (message) =>
    messages.push(`${name}:${message.outcome ?? message.status}`),
  );
}
const adapter = createLockAdapter(process.env.REDIS_URL);
await adapter.ready?.(5_000);
const redlock = new Redlock([adapter]);
out.result = await redlock.using('without-otel', () => 'ran');
out.messages = [...messages];

try {
  await instrumentRedlock();
  out.instrumented = true;
} catch (error) {
  out.instrumentError = {
    isConfigError: error instanceof RedlockConfigError,
    message: error.message,
  };
}

const { Test } = await import('@nestjs/testing');
const { RedlockModule, RedlockService } = lib;
const plain = await Test.createTestingModule({
  imports: [RedlockModule.forRoot({ nodes: [process.env.REDIS_URL], logger: false })],
}).compile();
const app = plain.createNestApplication({ logger: false });
await app.init();
out.moduleResult = await app.get(RedlockService).using('without-otel:module', () => 'ran');
await app.close();

const telemetry = await Test.createTestingModule({
  imports: [
    RedlockModule.forRoot({ nodes: [process.env.REDIS_URL], logger: false, telemetry: true }),
  ],
}).compile();
const failing = telemetry.createNestApplication({ logger: false });
try {
  await failing.init();
  out.telemetryModuleStarted = true;
} catch (error) {
  out.telemetryModuleError = {
    isConfigError: error instanceof RedlockConfigError,
    message: error.message,
  };
}
await failing.close().catch(() => undefined);
await adapter.close();
process.stdout.write(`${JSON.stringify(out)}\n`);
