import 'reflect-metadata';
import { LockKeyError } from '../redlock.errors.js';
import type { LockKey } from './key-template.js';

/**
 * What a key is used for: a `lock` excludes while a method runs (`@WithLock`); a `job` is a
 * scheduled job's lease or run lock (`@OnOneInstance`, `@WithoutOverlapping`); an `election`
 * is held by a leader for as long as it leads (`@LeaderElection`).
 */
export type KeySiteKind = 'lock' | 'job' | 'election';

/** One place in the code that names a lock key. */
export interface KeySite {
  readonly kind: KeySiteKind;
  /** `@WithLock`, `@OnOneInstance`... */
  readonly decorator: string;
  /** `Class.method`, or `Class` for a class decorator. */
  readonly where: string;
  readonly key: LockKey;
}

const KEY_SITES = Symbol('nestjs-redlock:key-sites');

/** Records a site on the class, for the startup check. */
export function recordKeySite(ctor: object, site: KeySite): void {
  const sites = (Reflect.getOwnMetadata(KEY_SITES, ctor) as KeySite[] | undefined) ?? [];
  Reflect.defineMetadata(KEY_SITES, [...sites, site], ctor);
}

/** The sites recorded on a class (its own, not its parents'). */
export function keySitesOf(ctor: object): readonly KeySite[] {
  return (Reflect.getOwnMetadata(KEY_SITES, ctor) as KeySite[] | undefined) ?? [];
}

interface Matcher {
  readonly site: KeySite;
  /** A literal resource, or a template's pattern (placeholders match anything). */
  readonly literal?: string;
  readonly pattern?: RegExp;
  readonly source: string;
}

const PLACEHOLDER = /<\d+(?:\.[A-Za-z_$][\w$]*)*>/g;

/**
 * Throws `LockKeyError` (`ERR_REDLOCK_KEY_COLLISION`) naming both places when two sites can
 * lock the same resource and at least one of them is a job or an election: a leader or job
 * owner holds its key for as long as the instance lives, so anything else on that key would
 * wait or skip forever, and two jobs on one key would run as one. Two `@WithLock` sites on one
 * key are the normal way to make methods exclude each other and are left alone. Templates are
 * compared with their placeholders standing for any text; key functions cannot be checked.
 */
export function assertNoKeyCollisions(sites: readonly KeySite[]): void {
  const matchers = sites.flatMap(matchersOf);
  for (let i = 0; i < matchers.length; i += 1) {
    for (let j = i + 1; j < matchers.length; j += 1) {
      const a = matchers[i]!;
      const b = matchers[j]!;
      if (a.site.kind === 'lock' && b.site.kind === 'lock') continue;
      if (a.site === b.site) continue;
      const resource = overlap(a, b);
      if (resource === undefined) continue;
      throw new LockKeyError(
        `Lock key collision: ${describeSite(a)} and ${describeSite(b)} both lock "${resource}". ` +
          `${hint(a.site, b.site)} Give one of them another key.`,
        { code: 'ERR_REDLOCK_KEY_COLLISION', resources: [resource] },
      );
    }
  }
}

function matchersOf(site: KeySite): Matcher[] {
  if (typeof site.key === 'function') return [];
  const templates: readonly string[] = typeof site.key === 'string' ? [site.key] : site.key;
  return templates.map((source) => {
    if (!source.includes('<')) return { site, literal: source, source };
    const parts = source
      .split(PLACEHOLDER)
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    return { site, pattern: new RegExp(`^${parts.join('.+')}$`, 's'), source };
  });
}

function overlap(a: Matcher, b: Matcher): string | undefined {
  if (a.literal !== undefined && b.literal !== undefined) {
    return a.literal === b.literal ? a.literal : undefined;
  }
  if (a.literal !== undefined && b.pattern)
    return b.pattern.test(a.literal) ? a.literal : undefined;
  if (b.literal !== undefined && a.pattern)
    return a.pattern.test(b.literal) ? b.literal : undefined;
  return undefined; // two templates: any overlap depends on the arguments
}

function describeSite(matcher: Matcher): string {
  const { decorator, where } = matcher.site;
  const key = matcher.literal === undefined ? ` (template "${matcher.source}")` : '';
  return `${decorator} on ${where}${key}`;
}

function hint(a: KeySite, b: KeySite): string {
  if (a.kind === 'election' || b.kind === 'election') {
    return 'A leader holds its election key for as long as it leads.';
  }
  if (a.kind === 'job' && b.kind === 'job') {
    return 'Two jobs on one key would share their lease and their ticks: one of them would never run.';
  }
  return 'A scheduled job holds its key while it owns or runs the job.';
}
