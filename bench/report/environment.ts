/** The machine and the versions a run used, for the report. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { Machine } from './results.js';

export function machine(): Machine {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpus: cpus.length,
    cpuMHz: cpus[0]?.speed ?? 0,
    totalMemGiB: os.totalmem() / 1024 ** 3,
    platform: os.platform(),
    release: os.release(),
    arch: os.arch(),
    loadAvgAtStart: os.loadavg(),
  };
}

export function packageVersion(root: string, name: string): string {
  try {
    const pkg = JSON.parse(
      readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8'),
    ) as {
      version?: string;
    };
    return (pkg.version ?? 'unknown').replace(/^v/, '');
  } catch {
    return 'not installed';
  }
}

/** This package's version and commit, noting uncommitted changes under lib/ (the lead's work). */
export function oursVersion(root: string): string {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  try {
    const git = (args: string[]): string =>
      execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
    const commit = git(['rev-parse', '--short', 'HEAD']);
    const dirty = git(['status', '--porcelain', '--', 'lib']);
    return `${pkg.version} (git ${commit}${dirty ? ', lib/ modified' : ''})`;
  } catch {
    return pkg.version;
  }
}

export const PEER_PACKAGES = [
  'ioredis',
  'redlock',
  '@sesamecare-oss/redlock',
  'redis-semaphore',
  '@nestjs/core',
  '@nestjs/platform-express',
];
