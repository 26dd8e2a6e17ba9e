import { Injectable, Logger } from '@nestjs/common';
import { Cron, CronExpression } from '@nestjs/schedule';
import { WithLock } from 'nestjs-redlock';

/**
 * Runs on one instance per tick: the others find the lock busy and skip the tick
 * (`onBusy: 'skip'`) instead of queueing behind it.
 */
@Injectable()
export class SalesReportJob {
  private readonly logger = new Logger(SalesReportJob.name);
  runs = 0;

  @Cron(CronExpression.EVERY_30_SECONDS, { name: 'sales-report', waitForCompletion: true })
  @WithLock('jobs:sales-report', { onBusy: 'skip', ttl: 10_000 })
  report(): void {
    this.runs += 1;
    this.logger.log(`Sales report run ${this.runs} on pid ${process.pid}`);
  }
}
