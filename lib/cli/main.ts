#!/usr/bin/env node
/**
 * `npx nestjs-redlock locks | release <resource> | watch`: see and clear an application's locks
 * from a terminal, on the same nodes and key prefix the application uses. See `cli-options.ts`
 * for the options, `nestjs-redlock --help` for the text.
 */
import { redact, safeMessage } from '../redaction.js';
import { runCommand } from './cli-commands.js';
import { parseCli, USAGE, UsageError } from './cli-options.js';

async function main(): Promise<number> {
  let options;
  try {
    options = parseCli(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${redact(error.message)}\n\n${USAGE}\n`);
    return 2;
  }
  if (options.command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await runCommand(
      options,
      {
        out: (text) => process.stdout.write(`${text}\n`),
        err: (text) => process.stderr.write(`${text}\n`),
        tty: process.stdout.isTTY === true,
      },
      stop.signal,
    );
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // Whatever went wrong, the message goes out without the credentials of any node URL.
    process.stderr.write(`nestjs-redlock: ${safeMessage(error)}\n`);
    process.exitCode = 1;
  },
);
