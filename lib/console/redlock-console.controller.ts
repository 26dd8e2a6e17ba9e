import { randomBytes } from 'node:crypto';
import {
  type CanActivate,
  Controller,
  ForbiddenException,
  Get,
  Header,
  HttpCode,
  Inject,
  Post,
  Req,
  Res,
  type Type,
  UseGuards,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { toHttpException } from '../redlock-http.exception.js';
import { type ConsoleState, RedlockConsoleService } from './redlock-console.service.js';
import { REDLOCK_CONSOLE_OPTIONS, type ResolvedConsoleOptions } from './redlock-console.options.js';
import { renderConsolePage } from './console-page.js';

/** What the console's routes read of a request, on Express and on Fastify. */
interface ConsoleRequest {
  readonly originalUrl?: string;
  readonly url?: string;
  readonly query?: Record<string, unknown>;
  readonly body?: unknown;
  readonly headers: Record<string, string | string[] | undefined>;
}

/**
 * The header a force release must carry. Browsers only send custom headers from the page's own
 * origin (anything else needs a CORS preflight the console never grants), so a page elsewhere
 * cannot make a logged-in operator's browser release a lock (CSRF).
 */
export const CONSOLE_HEADER = 'x-redlock-console';

/**
 * The console's controller, made for one path and guard: Nest reads a controller's path and
 * guards from decorators, so `register()` decorates a fresh class with them.
 */
export function consoleController(
  path: string,
  guard: Type<CanActivate> | CanActivate | undefined,
): Type<unknown> {
  @Controller(path)
  class RedlockConsoleController {
    constructor(
      private readonly console: RedlockConsoleService,
      private readonly host: HttpAdapterHost,
      @Inject(REDLOCK_CONSOLE_OPTIONS) private readonly options: ResolvedConsoleOptions,
    ) {}

    /** The page: static HTML and inline script; every value comes from the JSON API. */
    @Get()
    page(@Req() request: ConsoleRequest, @Res() response: unknown): void {
      const nonce = randomBytes(16).toString('base64');
      const url = new URL(request.originalUrl ?? request.url ?? '/', 'http://console');
      const html = renderConsolePage({
        base: url.pathname.replace(/\/+$/, ''),
        nonce,
        refreshInterval: this.options.refreshInterval,
      });
      const http = this.host.httpAdapter;
      http.setHeader(response, 'Content-Type', 'text/html; charset=utf-8');
      http.setHeader(response, 'Cache-Control', 'no-store');
      // The page may carry a token in its URL: never send it on as a Referer.
      http.setHeader(response, 'Referrer-Policy', 'no-referrer');
      http.setHeader(response, 'X-Frame-Options', 'DENY');
      http.setHeader(response, 'X-Content-Type-Options', 'nosniff');
      http.setHeader(
        response,
        'Content-Security-Policy',
        `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
      );
      http.reply(response, html, 200);
    }

    /** Held locks (filtered by `?pattern=`), node health, recent events. */
    @Get('api/state')
    @Header('Cache-Control', 'no-store')
    async state(@Req() request: ConsoleRequest): Promise<ConsoleState> {
      const pattern = request.query?.pattern;
      try {
        return await this.console.state(
          typeof pattern === 'string' && pattern !== '' ? pattern : '*',
        );
      } catch (error) {
        throw toHttpException(error) ?? error;
      }
    }

    /** Force release: `{ "resource": "..." }`, only behind a guard, only from the page. */
    @Post('api/release')
    @HttpCode(200)
    @Header('Cache-Control', 'no-store')
    async release(@Req() request: ConsoleRequest): Promise<unknown> {
      if (!this.console.canRelease) {
        throw new ForbiddenException('Force release needs a guard on the lock console.');
      }
      if (request.headers[CONSOLE_HEADER] !== '1') {
        throw new ForbiddenException(`Force release needs the ${CONSOLE_HEADER}: 1 header.`);
      }
      const resource = (request.body as { resource?: unknown } | undefined)?.resource;
      try {
        return await this.console.release(resource as string, request);
      } catch (error) {
        throw toHttpException(error) ?? error;
      }
    }
  }
  if (guard) UseGuards(guard)(RedlockConsoleController);
  return RedlockConsoleController;
}
