import type { INestApplication, LoggerService, ModuleMetadata } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test, type TestingModuleBuilder } from '@nestjs/testing';

/** The HTTP platforms every e2e suite runs on, as `describe.each` rows. */
export const PLATFORMS = ['express', 'fastify'] as const;
export type Platform = (typeof PLATFORMS)[number];

export interface RunningApp {
  readonly app: INestApplication;
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
}

/**
 * Builds and starts an application on a free loopback port, on the given platform.
 * `configure` runs before `listen` (global filters, shutdown hooks...); `override` on the
 * testing module builder (overrideModule, overrideProvider).
 */
export async function startOn(
  platform: Platform,
  metadata: ModuleMetadata,
  options: {
    logger?: LoggerService | false;
    override?: (builder: TestingModuleBuilder) => TestingModuleBuilder;
    configure?: (app: INestApplication) => void;
  } = {},
): Promise<RunningApp> {
  let builder = Test.createTestingModule(metadata);
  if (options.override) builder = options.override(builder);
  const ref = await builder.compile();
  const adapter = platform === 'express' ? new ExpressAdapter() : new FastifyAdapter();
  const app = ref.createNestApplication(adapter, { logger: options.logger ?? false });
  options.configure?.(app);
  await app.listen(0, '127.0.0.1');
  return { app, url: (await app.getUrl()).replace('[::1]', '127.0.0.1') };
}

/** A JSON request; resolves with the status, headers and parsed body. */
export async function call(
  url: string,
  method: 'GET' | 'POST' | 'PUT',
  body?: unknown,
): Promise<{ status: number; headers: Headers; body: unknown; text: string }> {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: keep the text.
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}
