import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { ScheduleModule } from '@nestjs/schedule';
import { TerminusModule } from '@nestjs/terminus';
import { RedlockModule } from 'nestjs-redlock';
import { HealthController } from './health/health.controller.js';
import { SalesReportJob } from './jobs/sales-report.job.js';
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
  ],
  controllers: [TicketsController, HealthController],
  providers: [InventoryStore, TicketsService, SalesReportJob],
})
export class AppModule {}
