/**
 * Keeping secrets and unbounded input out of messages.
 *
 * Everything the library writes for people (error messages, log lines, health details, HTTP
 * bodies) goes through these helpers: node addresses may carry passwords (`redis://:pw@host`),
 * and resource names may come from a request body of any size.
 */

// `scheme://` followed by anything up to the LAST `@` before the next whitespace: a password may
// itself contain `@`, and the address ends at whitespace in a sentence.
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/)\S*@/gi;
// `?password=...` / `&password=...` in query strings, as some clients accept them.
const QUERY_SECRET = /([?&](?:password|pass|pwd|token|secret)=)[^&\s]*/gi;

/**
 * The text with the credentials of every `scheme://user:password@host` address replaced by
 * `***`, and `password=` query parameters blanked.
 *
 * @example
 * ```ts
 * redact('cannot reach redis://app:s3cret@10.0.0.5:6379'); // 'cannot reach redis://***@10.0.0.5:6379'
 * ```
 */
export function redact(text: string): string {
  return text.replace(URL_CREDENTIALS, '$1***@').replace(QUERY_SECRET, '$1***');
}

/**
 * One node URL for messages: credentials replaced by `***`. Unlike {@link redact}, it treats the
 * whole string as one address, so a password containing spaces or `/` is hidden too.
 *
 * @example
 * ```ts
 * redactUrl('redis://:p@ss w/rd@cache:6379/0'); // 'redis://***@cache:6379/0'
 * ```
 */
export function redactUrl(url: string): string {
  const scheme = /^\s*[a-z][a-z0-9+.-]*:\/\//i.exec(url);
  if (!scheme) return redact(url);
  const rest = url.slice(scheme[0].length);
  const at = rest.lastIndexOf('@');
  return at === -1 ? redact(url) : `${scheme[0]}***@${redact(rest.slice(at + 1))}`;
}

/**
 * An error's message (or any thrown value as text) without credentials and at most `max`
 * characters long.
 *
 * @example
 * ```ts
 * logger.warn(`Lock node ${name}: ${safeMessage(error)}`);
 * ```
 */
export function safeMessage(error: unknown, max = 500): string {
  const text = error instanceof Error ? error.message : String(error);
  return truncate(redact(text), max);
}

/**
 * `text` cut to at most `max` characters, keeping its start and its end (the end of an error
 * message usually says why), with the number of characters left out in the middle.
 *
 * @example
 * ```ts
 * truncate('x'.repeat(10_000), 60); // 'xxxx… [9,945 characters cut] …xxxx'
 * ```
 */
export function truncate(text: string, max = 1_000): string {
  if (text.length <= max) return text;
  const marker = (cut: number) => `… [${cut.toLocaleString('en-US')} characters cut] …`;
  // The marker's own length depends on the count; one estimate with the largest count is enough.
  const room = Math.max(0, max - marker(text.length).length);
  const head = Math.ceil((room * 2) / 3);
  const tail = room - head;
  return `${text.slice(0, head)}${marker(text.length - room)}${tail > 0 ? text.slice(-tail) : ''}`;
}

/**
 * A list for a sentence: the first `max` items joined by `, `, then how many more there are.
 * Each item is cut to 100 characters.
 *
 * @example
 * ```ts
 * listForMessage(['a', 'b', 'c', 'd'], 2); // 'a, b and 2 more'
 * ```
 */
export function listForMessage(items: readonly unknown[], max = 10): string {
  const shown = items.slice(0, max).map((item) => truncate(String(item), 100));
  const more = items.length - shown.length;
  return more > 0
    ? `${shown.join(', ')} and ${more.toLocaleString('en-US')} more`
    : shown.join(', ');
}

/** Socket error codes as a person says them. */
const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found (DNS lookup failed)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNABORTED: 'connection aborted',
};

/**
 * What went wrong with a node, in words a person on call understands: `connection refused
 * (10.0.0.5:6379)`, `authentication failed (WRONGPASS ...)`, `not connected`, instead of a
 * client library's internals. Never contains credentials.
 *
 * @example
 * ```ts
 * describeNodeError(Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:6379'), { code: 'ECONNREFUSED' }));
 * // 'connection refused (10.0.0.5:6379)'
 * ```
 */
export function describeNodeError(error: unknown): string {
  let message = safeMessage(error, 300);
  // The adapters explain a call that found no connection as "<node> is not connected
  // (<state>): <why>"; the why is what a person needs.
  const explained = /\bis not connected \([\w-]+\)(?:: (.+))?$/s.exec(message);
  if (explained) {
    if (!explained[1]) return 'not connected';
    message = explained[1];
  }
  const own = typeof error === 'object' && error !== null && 'code' in error ? error.code : '';
  const network =
    NETWORK_ERRORS[String(own)] ?? NETWORK_ERRORS[/\b(E[A-Z_]{4,})\b/.exec(message)?.[1] ?? ''];
  if (network) {
    const address = /\b(\d{1,3}(?:\.\d{1,3}){3}:\d+|\[[0-9a-f:]+\]:\d+|[\w.-]+:\d{2,5})\b/i.exec(
      message,
    )?.[1];
    return address ? `${network} (${address})` : network;
  }
  const auth = /(WRONGPASS|NOAUTH|ERR invalid password|ERR AUTH)[^]*$/i.exec(message);
  if (auth) return `authentication failed (${auth[0]})`;
  // ioredis and node-redis, when a command finds no live connection.
  if (
    /Stream isn't writeable|Connection is closed|The client is closed|Socket closed/i.test(message)
  ) {
    return 'not connected';
  }
  return message;
}

/**
 * A short, safe rendering of a user value for error messages: a string loses the credentials of
 * any URL in it before it is cut to 64 characters (cut first, a long password could show).
 */
export function describe(value: unknown): string {
  if (typeof value === 'string') {
    const safe = redactUrl(value);
    return JSON.stringify(safe.length > 64 ? `${safe.slice(0, 64)}…` : safe);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'symbol') return value.toString();
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  return `an object (${value.constructor?.name ?? 'Object'})`;
}
