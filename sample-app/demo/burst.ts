/** What one burst of purchases did to an event. */
export interface BurstResult {
  route: 'locked' | 'unlocked';
  requests: number;
  capacity: number;
  sold: number;
  oversold: number;
  soldOut: number;
  conflicts: number;
  errors: number;
  ms: number;
}

/**
 * Restocks `eventId` to `capacity` through the first instance, then fires `requests` concurrent
 * purchases spread round-robin over the instances, and reads back what was sold.
 */
export async function burst(
  baseUrls: readonly string[],
  route: 'locked' | 'unlocked',
  options: { eventId: string; capacity: number; requests: number },
): Promise<BurstResult> {
  const { eventId, capacity, requests } = options;
  const restock = await fetch(`${baseUrls[0]}/events/${eventId}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ capacity }),
  });
  if (!restock.ok) throw new Error(`restock failed: HTTP ${restock.status}`);
  const path = route === 'locked' ? 'tickets' : 'tickets/unlocked';
  const started = performance.now();
  const statuses = await Promise.all(
    Array.from({ length: requests }, async (_, i) => {
      const base = baseUrls[i % baseUrls.length]!;
      try {
        const response = await fetch(`${base}/events/${eventId}/${path}`, { method: 'POST' });
        await response.arrayBuffer();
        return response.status;
      } catch {
        return 0;
      }
    }),
  );
  const ms = Math.round(performance.now() - started);
  const stats = (await (await fetch(`${baseUrls[0]}/events/${eventId}`)).json()) as {
    capacity: number;
    sold: number;
  };
  return {
    route,
    requests,
    capacity: stats.capacity,
    sold: stats.sold,
    oversold: Math.max(0, stats.sold - stats.capacity),
    soldOut: statuses.filter((s) => s === 410).length,
    conflicts: statuses.filter((s) => s === 409).length,
    errors: statuses.filter((s) => s === 0 || s >= 500).length,
    ms,
  };
}

/** The results as a fixed-width table for the terminal. */
export function formatTable(results: readonly BurstResult[]): string {
  const header = [
    'route',
    'requests',
    'capacity',
    'sold',
    'oversold',
    'sold out (410)',
    'busy (409)',
    'errors',
    'ms',
  ];
  const rows = results.map((r) =>
    [
      r.route,
      r.requests,
      r.capacity,
      r.sold,
      r.oversold,
      r.soldOut,
      r.conflicts,
      r.errors,
      r.ms,
    ].map(String),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
