import { createLockAdapter } from '../adapters/lock-adapter.factory.js';
import type { LockAdapter } from '../interfaces/lock-adapter.interface.js';
import { redact, safeMessage } from '../redaction.js';
import { Redlock } from '../services/redlock.engine.js';
import type { CliOptions } from './cli-options.js';
import { lockTable, printable } from './lock-table.js';

/** Where a command writes; the real streams in `main.ts`, buffers in tests. */
export interface CliOutput {
  out(text: string): void;
  err(text: string): void;
  /** Whether `out` is a terminal (then `watch` redraws the screen in place). */
  readonly tty: boolean;
}

/**
 * Runs `locks`, `release` or `watch` against the nodes and resolves to the exit code: 0 done,
 * 1 when not enough nodes answered. The CLI's engine holds no lock and writes no instance record
 * (`holderInfo: false`): it only reads, and deletes what `release` names.
 */
export async function runCommand(
  options: CliOptions,
  output: CliOutput,
  stop: AbortSignal,
): Promise<number> {
  const adapters: LockAdapter[] = [];
  const redlock = await connect(options, adapters);
  try {
    if (options.command === 'release') return await release(redlock, options, output);
    let code = 0;
    for (let round = 0; round < options.count && !stop.aborted; round += 1) {
      if (round > 0) await pause(options.interval, stop);
      if (stop.aborted) break;
      code = await list(redlock, options, output, options.command === 'watch');
      if (options.command === 'locks') break;
    }
    return code;
  } finally {
    await redlock.close();
    await Promise.allSettled(adapters.map((adapter) => adapter.close()));
  }
}

async function connect(options: CliOptions, adapters: LockAdapter[]): Promise<Redlock> {
  for (const url of options.nodes) {
    // Connection errors are reported per node by the inspection, not as stray events.
    adapters.push(createLockAdapter(url, { onError: () => undefined }));
  }
  await Promise.allSettled(
    adapters.map((adapter) => adapter.ready?.(options.timeout) ?? Promise.resolve()),
  );
  return new Redlock(adapters, {
    keyPrefix: options.prefix,
    holderInfo: false,
    circuitBreaker: false,
    lock: { nodeTimeout: options.timeout },
  });
}

async function list(
  redlock: Redlock,
  options: CliOptions,
  output: CliOutput,
  watching: boolean,
): Promise<number> {
  const inspection = await redlock.inspect(options.pattern, { limit: options.limit });
  const answered = inspection.nodes.filter((node) => node.status === 'ok').length;
  if (options.json) {
    output.out(JSON.stringify(inspection));
  } else {
    const heading = watching
      ? `${new Date(inspection.at).toISOString()}  ${options.prefix}${options.pattern}  (Ctrl-C to stop)\n\n`
      : '';
    output.out(
      `${watching && output.tty ? '\u001b[2J\u001b[H' : ''}${heading}${lockTable(inspection)}`,
    );
  }
  if (answered >= redlock.quorum) return 0;
  output.err(
    `Only ${answered} of ${inspection.nodes.length} nodes answered: the list may be incomplete.`,
  );
  return 1;
}

async function release(redlock: Redlock, options: CliOptions, output: CliOutput): Promise<number> {
  const resource = options.resource!;
  try {
    const result = await redlock.forceRelease(resource, { by: `cli:${options.by!}` });
    if (options.json) {
      output.out(JSON.stringify(result));
    } else {
      const what = printable(resource, 200);
      output.out(
        result.deleted === 0
          ? `${what} was not held on any node; nothing deleted.`
          : `Released ${what}: deleted on ${result.deleted} of ${result.nodes.length} nodes` +
              (result.fencingCounter === undefined
                ? '.'
                : `; fencing counter raised to ${result.fencingCounter} (give it to the protected store to refuse the old holder's writes).`),
      );
    }
    return 0;
  } catch (error) {
    output.err(`Release of ${printable(resource, 200)} failed: ${redact(safeMessage(error))}`);
    return 1;
  }
}

function pause(ms: number, stop: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      stop.removeEventListener('abort', done);
      resolve();
    }
    stop.addEventListener('abort', done, { once: true });
  });
}
