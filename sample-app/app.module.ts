import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { ScheduleModule } from '@nestjs/schedule';
import { TerminusModule } from '@nestjs/terminus';
import { RedlockModule } from 'nestjs-redlock';
import { ExportsController } from './exports/exports.controller.js';
import { HealthController } from './health/health.controller.js';
import { SalesReportJob } from './jobs/sales-report.job.js';
import { LockConsoleModule } from './ops/lock-console.module.js';
import { InventoryStore } from './tickets/inventory.store.js';
import { TicketsController } from './tickets/tickets.controller.js';
import { TicketsService } from './tickets/tickets.service.js';

@Module({
  imports: [
    ConfigModule.forRoot(),
    ScheduleModule.forRoot(),
    TerminusModule,
    RedlockModule.forRootAsync({
      imports: [ConfigModule],
      inject: [ConfigService],
      useFactory: (config: ConfigService) => ({
        // Comma-separated redis:// URLs; unset means the in-process store (one instance only).
        nodes: (config.get<string>('REDLOCK_NODES') || 'memory://').split(','),
        lock: { ttl: 10_000, wait: 5_000 },
      }),
    }),
    // /ops/locks?token=$LOCK_CONSOLE_TOKEN (closed while the variable is unset).
    LockConsoleModule,
  ],
  controllers: [TicketsController, ExportsController, HealthController],
  providers: [InventoryStore, TicketsService, SalesReportJob],
})
export class AppModule {}
