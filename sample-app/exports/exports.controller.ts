import { Controller, Param, Post } from '@nestjs/common';
import { WithLock } from 'nestjs-redlock';

/** How long one export keeps its worker busy (a stand-in for rendering a large file). */
const EXPORT_MS = 200;

/**
 * A rate-limited export: at most two run at once across every instance of the app (a
 * semaphore, `permits: 2`); a third caller waits for a free permit, up to 30 s, and then gets a
 * 409 with `Retry-After`. A crashed instance's permit frees itself when its ttl runs out.
 */
@Controller('exports')
export class ExportsController {
  @Post(':eventId')
  @WithLock('export', { permits: 2, ttl: '10s', wait: '30s' })
  async export(@Param('eventId') eventId: string) {
    const startedAt = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, EXPORT_MS));
    return { eventId, startedAt, finishedAt: new Date().toISOString() };
  }
}
