import { Injectable, type OnApplicationBootstrap, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { COORDINATION } from '../redlock.constants.js';
import { RedlockService } from '../services/redlock.service.js';
import { assertNoKeyCollisions, keySitesOf } from './key-sites.js';
import { LEADER_ELECTION, type LeaderElectionMetadata } from './leader-election.decorator.js';

/**
 * At startup, per application: checks that no two jobs, elections and locks share a key (the
 * error names both places), registers the `@LeaderElection` providers, and starts their
 * campaigns once every module is initialised.
 */
@Injectable()
export class CoordinationExplorer implements OnModuleInit, OnApplicationBootstrap {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly service: RedlockService,
  ) {}

  onModuleInit(): void {
    const classes = new Set<object>();
    const { elections } = this.service[COORDINATION]();
    const wrappers = [...this.discovery.getProviders(), ...this.discovery.getControllers()];
    for (const wrapper of wrappers) {
      const instance: unknown = wrapper.instance;
      if (typeof instance !== 'object' || instance === null) continue;
      const ctor = instance.constructor as object;
      // Decorated methods may come from a parent class.
      for (let c: object | null = ctor; c && c !== Object; c = Object.getPrototypeOf(c) as object) {
        classes.add(c);
      }
      const election = Reflect.getMetadata(LEADER_ELECTION, ctor) as
        LeaderElectionMetadata | undefined;
      if (!election || !wrapper.isDependencyTreeStatic() || wrapper.isTransient) continue;
      elections.add({
        key: election.key,
        label: (ctor as { name?: string }).name ?? 'LeaderElection',
        options: election.options,
        target: instance,
      });
    }
    assertNoKeyCollisions([...classes].flatMap((c) => keySitesOf(c)));
  }

  onApplicationBootstrap(): void {
    this.service[COORDINATION]().elections.start();
  }
}
