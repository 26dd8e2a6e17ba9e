/**
 * The memory world: `MemoryLockAdapter` nodes shared by every engine (each node is one store,
 * as a Redis server is), each engine reaching each node over its own simulated link
 * (`links.ts`) with a few ms of random delay per message, so that quorum rounds race as they
 * do over a network.
 */
import { MemoryLockAdapter } from '../../../lib/adapters/memory.adapter.js';
import { DEFAULT_KEY_PREFIX } from '../../../lib/redlock.constants.js';
import { Link, MemoryNode } from './links.js';
import type { Fault, Plan } from './plan.js';
import type { RunWorld, World } from './world.js';

const JITTER_MS = 3;

/** A synchronous repair as the `() => Promise<void>` the runner expects. */
function heal(fn: () => void): () => Promise<void> {
  return () => {
    fn();
    return Promise.resolve();
  };
}
const RECONNECT_MS = 20;

export class MemoryWorld implements World {
  readonly kind = 'memory' as const;
  readonly slack = 150;

  open(plan: Plan, engines: number): Promise<RunWorld> {
    // RELIABILITY_MONITOR=<dir>: every command each node ran (time, link, method, arguments).
    const monitor = process.env.RELIABILITY_MONITOR;
    const started = performance.now();
    const lines: string[] = [];
    const onExecute = monitor
      ? (link: string, method: string, args: unknown[], outcome: unknown): void => {
          const shown = args.map((a) => (typeof a === 'function' ? 'fn' : a));
          lines.push(
            `${Math.round(performance.now() - started)} ${link} ${method} ${JSON.stringify(shown)} -> ${JSON.stringify(outcome)}`,
          );
        }
      : undefined;
    const nodes = Array.from(
      { length: plan.nodes },
      (_, i) => new MemoryNode(i, () => new MemoryLockAdapter({ name: `memory://node${i}` })),
    );
    const links = Array.from({ length: engines }, (_, e) =>
      nodes.map(
        (node) =>
          new Link(node, `memory://node${node.index}`, {
            jitter: JITTER_MS,
            replaying: plan.engines[e]!.replaying,
            reconnectMs: RECONNECT_MS,
            onExecute:
              onExecute &&
              ((link, method, args, outcome) => onExecute(`e${e} ${link}`, method, args, outcome)),
          }),
      ),
    );
    const observers = nodes.map(
      (node) =>
        new Link(node, `memory://node${node.index}`, {
          jitter: 0,
          replaying: false,
          reconnectMs: RECONNECT_MS,
        }),
    );
    const keys = [
      ...Array.from({ length: plan.resources }, (_, i) => `${DEFAULT_KEY_PREFIX}r${i}`),
      ...plan.semaphores.map((_, i) => `${DEFAULT_KEY_PREFIX}s${i}`),
    ];
    const linkOf = (engine: number, node: number): Link =>
      links[engine % engines]![node % nodes.length]!;

    const world: RunWorld = {
      adapters: links.map((row) => row.map((link) => link.adapter)),
      observer: observers.map((link) => link.adapter),
      inject(fault: Fault): Promise<() => Promise<void>> {
        switch (fault.kind) {
          case 'latency': {
            const link = linkOf(fault.engine, fault.node);
            link.setLatency(fault.ms);
            return Promise.resolve(heal(() => link.setLatency(0)));
          }
          case 'blackhole': {
            const link = linkOf(fault.engine, fault.node);
            link.blackhole();
            return Promise.resolve(heal(() => link.heal()));
          }
          case 'partition': {
            // Cut off from a majority: every node but one.
            const cut = links[fault.engine % engines]!.filter(
              (_, i) => nodes.length === 1 || i !== fault.engine % nodes.length,
            );
            for (const link of cut) link.blackhole();
            return Promise.resolve(
              heal(() => {
                for (const link of cut) link.heal();
              }),
            );
          }
          case 'cut':
            linkOf(fault.engine, fault.node).cut();
            return Promise.resolve(heal(() => undefined));
          case 'cutMid': {
            const link = linkOf(fault.engine, fault.node);
            link.cutMidCommand();
            return Promise.resolve(heal(() => link.disarm()));
          }
          case 'refuse': {
            const link = linkOf(fault.engine, fault.node);
            link.refuse();
            link.cut();
            return Promise.resolve(heal(() => link.heal()));
          }
          case 'pause': {
            const node = nodes[fault.node % nodes.length]!;
            node.pause();
            return Promise.resolve(heal(() => node.resume()));
          }
          case 'restart': {
            const node = nodes[fault.node % nodes.length]!;
            return node.kill().then(() => heal(() => node.restart()));
          }
        }
      },
      async lockKeys() {
        const found: { node: number; key: string; pttl: number }[] = [];
        for (const node of nodes) {
          if (node.down) continue;
          for (const key of keys) {
            const pttl = await node.store.inspect([key]);
            if (pttl !== -2) found.push({ node: node.index, key, pttl });
          }
        }
        return found;
      },
      pauseNode(index: number) {
        const node = nodes[index % nodes.length]!;
        node.pause();
        return Promise.resolve(heal(() => node.resume()));
      },
      closeAdapters: () => Promise.resolve(),
      idle: () => [...links.flat(), ...observers].every((link) => link.idle),
      async close() {
        if (monitor) {
          const { writeFileSync } = await import('node:fs');
          writeFileSync(`${monitor}/memory.log`, lines.join('\n'));
        }
        for (const node of nodes) {
          node.resume();
          node.restart();
        }
        for (const link of [...links.flat(), ...observers]) link.close();
        await Promise.all(nodes.map((node) => node.close()));
      },
    };
    return Promise.resolve(world);
  }
}
