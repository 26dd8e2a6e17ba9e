import 'reflect-metadata';
import { Injectable, type INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Cron, ScheduleModule } from '@nestjs/schedule';
import { setTimeout as delay } from 'node:timers/promises';
import {
  LeaderElection,
  type Lock,
  type OnLeadershipAcquired,
  type OnLeadershipLost,
  OnOneInstance,
  RedlockModule,
  WithLock,
  WithoutOverlapping,
} from '../../../lib/index.js';

/**
 * One instance of an application for multi-instance.spec.ts, run in its own process by
 * instance-worker.mjs (whose wall clock may be skewed). Every run and every leadership change is
 * reported to the parent over IPC with the instance's own wall clock (`wall`, what its cron and
 * its tick claims see) and a clock all processes of the machine share (`real`).
 */
export interface InstanceConfig {
  readonly nodes: readonly string[];
}

const report = (message: Record<string, unknown>): void => {
  process.send?.({
    ...message,
    pid: process.pid,
    real: performance.timeOrigin + performance.now(),
  });
};

/** A 10 ms job, as in the issue. */
async function work(job: string): Promise<void> {
  report({ type: 'run', job, wall: Date.now() });
  await delay(10);
}

@Injectable()
class Jobs {
  @Cron('* * * * * *')
  @OnOneInstance({ ttl: '2s' })
  oneInstance() {
    return work('one-instance');
  }

  @Cron('* * * * * *')
  @WithoutOverlapping()
  noOverlap() {
    return work('no-overlap');
  }

  @Cron('* * * * * *')
  @WithLock('jobs:skip', { onBusy: 'skip' })
  skip() {
    return work('skip');
  }

  /** The flaw the tick claims fix: a lock held only while the job runs. */
  @Cron('* * * * * *')
  @WithLock('jobs:skip-unclaimed', { onBusy: 'skip', tickTolerance: 0 })
  unclaimed() {
    return work('unclaimed');
  }
}

@Injectable()
@LeaderElection('leader:multi', { ttl: '1500ms' })
class Leader implements OnLeadershipAcquired, OnLeadershipLost {
  onLeadershipAcquired(lock: Lock) {
    report({ type: 'leader', event: 'acquired', token: lock.fencingToken });
  }

  onLeadershipLost(lock: Lock) {
    report({ type: 'leader', event: 'lost', token: lock.fencingToken });
  }
}

export async function startInstance(config: InstanceConfig): Promise<INestApplicationContext> {
  @Module({
    imports: [
      ScheduleModule.forRoot(),
      RedlockModule.forRoot({ nodes: config.nodes, logger: false, shutdownTimeout: '2s' }),
    ],
    providers: [Jobs, Leader],
  })
  class InstanceModule {}
  return NestFactory.createApplicationContext(InstanceModule, { logger: false });
}
