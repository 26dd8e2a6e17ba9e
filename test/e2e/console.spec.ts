import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  type CanActivate,
  type ExecutionContext,
  Injectable,
  type LoggerService,
} from '@nestjs/common';
import puppeteer, { type Browser } from 'puppeteer-core';
import { RedlockConsoleModule, RedlockModule, RedlockService } from '../../lib/index.js';
import type { RedlockEvent } from '../../lib/interfaces/redlock-events.interface.js';
import { Redlock } from '../../lib/services/redlock.engine.js';
import { closeAdapters, connectAdapters } from '../support/adapters.js';
import { type RedisFleet, startRedisFleet } from '../support/redis-fleet.js';
import { call, PLATFORMS, type RunningApp, startOn } from './support/platforms.js';

// The page functions below run in Chromium; the test project has no DOM types.
declare const document: { querySelector(selector: string): { textContent: string | null } | null };

const TOKEN = 'console-test-token';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOT = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'docs',
  'console.png',
) as `${string}.png`;

/** A guard as an application would write one: a token in the query, a user for the audit. */
@Injectable()
class TokenGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context
      .switchToHttp()
      .getRequest<{ query: { token?: string }; user?: unknown }>();
    if (request.query.token !== TOKEN) return false;
    request.user = { name: 'ops-alice' };
    return true;
  }
}

const quiet: LoggerService = { log() {}, warn() {}, error() {} };

/**
 * The lock console in a real headless Chromium (Debian's `chromium`) on Express and Fastify,
 * over a real redis-server: the page shows a lock another instance holds, its ttl counts down in
 * the page, and force release removes it, shows the event and emits it with who did it.
 */
describe.each(PLATFORMS)('lock console on %s', (platform) => {
  let fleet: RedisFleet;
  let running: RunningApp;
  let browser: Browser;
  let worker: Redlock;
  const events: RedlockEvent[] = [];

  beforeAll(async () => {
    fleet = await startRedisFleet({ nodes: 1 });
    running = await startOn(
      platform,
      {
        imports: [
          RedlockModule.forRoot({
            nodes: fleet.urls,
            logger: false,
            instanceName: 'console-app',
            onEvent: (event) => events.push(event),
          }),
          RedlockConsoleModule.register({
            path: 'ops/locks',
            guard: TokenGuard,
            refreshInterval: 500,
          }),
        ],
      },
      { logger: quiet },
    );
    // Another instance of the application, holding locks the console must name.
    worker = new Redlock(await connectAdapters(fleet.urls), { instanceName: 'billing-worker-7' });
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await worker?.close();
    await closeAdapters(worker?.adapters ?? []);
    await running?.app.close();
    await fleet?.stop();
  });

  it('refuses requests the guard refuses, bad patterns and cross-site posts', async () => {
    const base = `${running.url}/ops/locks`;
    expect((await call(base, 'GET')).status).toBe(403);
    expect((await call(`${base}/api/state`, 'GET')).status).toBe(403);
    const bad = await call(`${base}/api/state?token=${TOKEN}&pattern=order:%5B`, 'GET');
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/never closed/);
    // No x-redlock-console header: what a form on another site would send.
    const forged = await call(`${base}/api/release?token=${TOKEN}`, 'POST', { resource: 'x' });
    expect(forged.status).toBe(403);
    const page = await fetch(`${base}?token=${TOKEN}`);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'nonce-/);
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('shows a held lock, counts its ttl down, force-releases it', async () => {
    const lock = await worker.acquire('report:nightly', { ttl: 30_000, fencing: true });
    const invoice = await worker.acquire('invoice:42', { ttl: 45_000, fencing: true });
    const readers = [await worker.acquireRead('catalog'), await worker.acquireRead('catalog')];
    const service = running.app.get(RedlockService);
    const stopWaiting = new AbortController();
    const waiting = service
      .acquire('invoice:42', { wait: 60_000, signal: stopWaiting.signal })
      .catch(() => undefined);
    // Events of this app for the page's list: one lock taken and released, one busy attempt.
    await service.using('orders:sync', () => undefined);
    expect(await service.tryAcquire('report:nightly')).toBeNull();
    const page = await browser.newPage();
    const text = (selector: string): Promise<string> =>
      page.evaluate((s) => document.querySelector(s)?.textContent ?? '', selector);
    try {
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(String(error)));
      page.on('dialog', (dialog) => void dialog.accept());
      await page.setViewport({ width: 1240, height: 720 });
      await page.goto(`${running.url}/ops/locks?token=${TOKEN}`);
      const row = 'tr[data-resource="report:nightly"]';
      await page.waitForSelector(row);
      const holder = await text(`${row} td:nth-child(3)`);
      expect(holder).toContain('billing-worker-7');
      // The countdown moves in the page, between refreshes.
      const ttl = `${row} td.ttl`;
      const first = await text(ttl);
      expect(first).toMatch(/^\d+\.\d s$/);
      await page.waitForFunction(
        (selector, before) => document.querySelector(selector)?.textContent !== before,
        {},
        ttl,
        first,
      );
      const later = await text(ttl);
      expect(parseFloat(later)).toBeLessThan(parseFloat(first));
      // The waiter of this app shows up in the row of invoice:42.
      await page.waitForFunction(
        () =>
          document.querySelector('tr[data-resource="invoice:42"] td:nth-child(7)')?.textContent ===
          '1',
      );
      if (platform === 'express' && process.env.CONSOLE_SCREENSHOT === '1') {
        mkdirSync(dirname(SCREENSHOT), { recursive: true });
        await page.screenshot({ path: SCREENSHOT });
      }

      await page.click(`${row} button.release`);
      await page.waitForFunction(
        (selector) =>
          !document.querySelector(selector) &&
          document.querySelector('#events li[data-type="forceReleased"]') !== null,
        {},
        row,
      );
      const line = await text('#events li[data-type="forceReleased"]');
      expect(line).toContain('report:nightly');
      expect(line).toContain('console:ops-alice');
      expect(await fleet.nodes[0]!.client().exists('lock:report:nightly')).toBe(0);
      expect(events).toContainEqual(
        expect.objectContaining({
          type: 'forceReleased',
          resources: ['report:nightly'],
          by: 'console:ops-alice',
        }),
      );
      await expect(lock.extend()).rejects.toThrow();
      // The CSP (inline script by nonce only) let the page's own script run, and it never threw.
      expect(pageErrors).toEqual([]);
    } finally {
      await page.close();
      stopWaiting.abort();
      await waiting;
      await invoice.release();
      for (const reader of readers) await reader.release();
    }
  }, 60_000);

  it('is not mounted without a guard, and read-only with unsafeAllowUnguarded', async () => {
    const off = await startOn(
      platform,
      {
        imports: [
          RedlockModule.forRoot({ nodes: ['memory://'], logger: false }),
          RedlockConsoleModule.register({ path: 'locks' }),
        ],
      },
      { logger: quiet },
    );
    const open = await startOn(
      platform,
      {
        imports: [
          RedlockModule.forRoot({ nodes: ['memory://'], logger: false }),
          RedlockConsoleModule.register({ path: 'locks', unsafeAllowUnguarded: true }),
        ],
      },
      { logger: quiet },
    );
    try {
      expect((await call(`${off.url}/locks`, 'GET')).status).toBe(404);
      const state = await call(`${open.url}/locks/api/state`, 'GET');
      expect(state.status).toBe(200);
      expect(state.body).toMatchObject({ canRelease: false, locks: [] });
      const refused = await fetch(`${open.url}/locks/api/release`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-redlock-console': '1' },
        body: JSON.stringify({ resource: 'x' }),
      });
      expect(refused.status).toBe(403);
    } finally {
      await off.app.close();
      await open.app.close();
    }
  });
});

/** The sample app mounts the console behind a token from the environment. */
describe('sample app lock console', () => {
  const saved = { ...process.env };
  afterAll(() => {
    process.env = saved;
  });

  it('is closed without LOCK_CONSOLE_TOKEN and opens with the token', async () => {
    const { AppModule } = await import('../../sample-app/app.module.js');
    delete process.env.REDLOCK_NODES;
    delete process.env.INVENTORY_URL;
    delete process.env.LOCK_CONSOLE_TOKEN;
    const closed = await startOn('express', { imports: [AppModule] }, { logger: quiet });
    try {
      expect((await call(`${closed.url}/ops/locks?token=anything`, 'GET')).status).toBe(403);
    } finally {
      await closed.app.close();
    }
    process.env.LOCK_CONSOLE_TOKEN = 'sample-token';
    const open = await startOn('express', { imports: [AppModule] }, { logger: quiet });
    try {
      expect((await call(`${open.url}/ops/locks?token=wrong`, 'GET')).status).toBe(403);
      const state = await call(`${open.url}/ops/locks/api/state?token=sample-token`, 'GET');
      expect(state.status).toBe(200);
      expect(state.body).toMatchObject({ canRelease: true });
      const bearer = await fetch(`${open.url}/ops/locks/api/state`, {
        headers: { authorization: 'Bearer sample-token' },
      });
      expect(bearer.status).toBe(200);
    } finally {
      await open.app.close();
    }
  });
});
