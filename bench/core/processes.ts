import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { settledWithin } from './clock.js';

/**
 * Child processes started by the bench: tracked so that every exit path (normal end, error,
 * SIGINT/SIGTERM) kills them. Children also exit on their own when the IPC channel to the parent
 * closes (see `exitWithParent`), which covers a parent that was SIGKILLed.
 */
const children = new Set<ChildProcess>();

/** Messages children send: `{ type, ... }`. */
export interface ChildMessage {
  readonly type: string;
  readonly [field: string]: unknown;
}

function isChildMessage(value: unknown): value is ChildMessage {
  return (
    typeof value === 'object' && value !== null && typeof (value as ChildMessage).type === 'string'
  );
}

/** Forks a compiled script next to `from` (an `import.meta.url`), tracked for cleanup. */
export function forkTracked(
  relativePath: string,
  from: string,
  options: { execArgv?: readonly string[]; env?: NodeJS.ProcessEnv } = {},
): ChildProcess {
  const path = fileURLToPath(new URL(relativePath, from));
  const child = fork(path, [], {
    execArgv: [...(options.execArgv ?? [])],
    env: { ...process.env, ...options.env },
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.on('error', () => undefined);
  return child;
}

/** Waits for the next message of `type` from `child`; rejects on exit, an `error` message, or timeout. */
export function nextMessage<T extends ChildMessage>(
  child: ChildProcess,
  type: string,
  timeoutMs: number,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (message: unknown): void => {
      if (!isChildMessage(message)) return;
      if (message.type === type) {
        cleanup();
        resolve(message as T);
      } else if (message.type === 'error') {
        cleanup();
        reject(new Error(`child ${child.pid}: ${String(message.message)}`));
      }
    };
    const onExit = (code: number | null, signal: string | null): void => {
      cleanup();
      reject(new Error(`child ${child.pid} exited (${signal ?? code}) before sending "${type}"`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`child ${child.pid} sent no "${type}" within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

export function send(child: ChildProcess, message: ChildMessage): void {
  if (child.connected) child.send(message);
}

/** Asks a child to stop (a `stop` message), then SIGKILLs it if it has not exited in time. */
export async function stopChild(child: ChildProcess, graceMs = 3_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  send(child, { type: 'stop' });
  if (await settledWithin(exited, graceMs)) return;
  child.kill('SIGKILL');
  await settledWithin(exited, 2_000);
}

/** SIGKILLs every tracked child now (synchronous: safe in signal and exit handlers). */
export function killAllChildren(): void {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  children.clear();
}

export function liveChildren(): number {
  return children.size;
}

// ---- child side ------------------------------------------------------------------------------

/** In a forked child: exit when the parent goes away, so no worker outlives a killed bench. */
export function exitWithParent(): void {
  process.on('disconnect', () => process.exit(0));
}

/** In a forked child: sends a message and resolves once it is handed to the IPC channel. */
export function reply(message: ChildMessage): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (!process.send) {
      reject(new Error('not a forked child (no IPC channel)'));
      return;
    }
    process.send(message, undefined, undefined, (error: Error | null) =>
      error ? reject(error) : resolve(),
    );
  });
}

/** In a forked child: resolves with the first message of `type` from the parent. */
export function parentMessage<T extends ChildMessage>(type: string): Promise<T> {
  return new Promise<T>((resolve) => {
    const onMessage = (message: unknown): void => {
      if (isChildMessage(message) && message.type === type) {
        process.off('message', onMessage);
        resolve(message as T);
      }
    };
    process.on('message', onMessage);
  });
}
