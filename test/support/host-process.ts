/**
 * The host realm's `process`. Jest runs each test file in a vm context whose `process` is a
 * copy with its own event emitter: Node emits 'exit', signals and 'unhandledRejection' on the
 * host's, so listeners must go there.
 */
import { runInThisContext } from 'node:vm';

export function hostProcess(): NodeJS.Process {
  try {
    const candidate = runInThisContext('process') as unknown;
    if (
      typeof candidate === 'object' &&
      candidate !== null &&
      'pid' in candidate &&
      'on' in candidate &&
      typeof candidate.on === 'function'
    ) {
      return candidate as NodeJS.Process;
    }
  } catch {
    // Not in a vm sandbox: the global is the real thing.
  }
  return process;
}

/** Collects the process's unhandled rejections until `stop()`. */
export interface RejectionTap {
  /** The reasons seen since the last call. */
  take(): unknown[];
  stop(): void;
}

/** Unhandled rejections of the whole process, seen through the host realm's `process`. */
export function tapRejections(): RejectionTap {
  const host = hostProcess();
  const seen: unknown[] = [];
  const listener = (reason: unknown): void => {
    seen.push(reason);
  };
  host.on('unhandledRejection', listener);
  return {
    take: () => seen.splice(0),
    stop: () => host.off('unhandledRejection', listener),
  };
}
