import type { SpanContext } from '@opentelemetry/api';

interface Holder {
  readonly lockId: number;
  readonly span: SpanContext;
  until: number;
}

/** Released holders remembered per resource, and resources remembered at most. */
const RECENT_PER_RESOURCE = 4;
const RECENT_RESOURCES = 1_024;

/**
 * Who held each resource, as span contexts of `redlock.hold` spans of this process: what a
 * waiting span links to. A waiter learns its outcome after the holder that made it wait may
 * have released, so holders released recently are remembered too (bounded: the last few per
 * resource, for the last resources released), and a waiter links every holder whose hold
 * overlapped its wait.
 */
export class HolderRegistry {
  private readonly current = new Map<string, Map<number, Holder>>();
  private readonly recent = new Map<string, Holder[]>();

  hold(resources: readonly string[], lockId: number, span: SpanContext): void {
    const holder: Holder = { lockId, span, until: Infinity };
    for (const resource of resources) {
      let holders = this.current.get(resource);
      if (!holders) this.current.set(resource, (holders = new Map<number, Holder>()));
      holders.set(lockId, holder);
    }
  }

  release(resources: readonly string[], lockId: number, at: number): void {
    for (const resource of resources) {
      const holders = this.current.get(resource);
      const holder = holders?.get(lockId);
      if (!holders || !holder) continue;
      holders.delete(lockId);
      if (holders.size === 0) this.current.delete(resource);
      holder.until = at;
      const recent = this.recent.get(resource) ?? [];
      recent.push(holder);
      if (recent.length > RECENT_PER_RESOURCE) recent.shift();
      // Re-inserted so the map's order is least recently released first.
      this.recent.delete(resource);
      this.recent.set(resource, recent);
      if (this.recent.size > RECENT_RESOURCES) {
        this.recent.delete(this.recent.keys().next().value!);
      }
    }
  }

  /** Span contexts of the holders of any of `resources` since `from` (epoch ms), each once. */
  since(resources: readonly string[], from: number, except?: number): SpanContext[] {
    const seen = new Set<number>();
    const spans: SpanContext[] = [];
    const add = (holder: Holder): void => {
      if (holder.lockId === except || holder.until < from || seen.has(holder.lockId)) return;
      seen.add(holder.lockId);
      spans.push(holder.span);
    };
    for (const resource of resources) {
      this.current.get(resource)?.forEach(add);
      this.recent.get(resource)?.forEach(add);
    }
    return spans;
  }
}
