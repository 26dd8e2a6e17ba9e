import { Injectable, Logger } from '@nestjs/common';
import { Cron, CronExpression } from '@nestjs/schedule';
import { OnOneInstance } from 'nestjs-redlock';

/**
 * Runs on one instance of the app: the first to tick owns the job (a lease it renews while it
 * lives) and the others skip. If the owner dies, another instance takes over within the lease
 * ttl; at shutdown the owner finishes its run and hands the job over. Each tick runs once even
 * when the instances' clocks differ by up to a second (`tickTolerance`).
 */
@Injectable()
export class SalesReportJob {
  private readonly logger = new Logger(SalesReportJob.name);
  runs = 0;

  @Cron(CronExpression.EVERY_30_SECONDS, { name: 'sales-report', waitForCompletion: true })
  @OnOneInstance({ key: 'jobs:sales-report', ttl: '15s' })
  report(): void {
    this.runs += 1;
    this.logger.log(`Sales report run ${this.runs} on pid ${process.pid}`);
  }
}
