import type { Attributes, Link, Span, Tracer } from '@opentelemetry/api';
import type {
  RedlockAcquireMessage,
  RedlockBusyMessage,
  RedlockExtendMessage,
  RedlockLostMessage,
  RedlockReleaseMessage,
} from './diagnostics-channels.js';
import { HolderRegistry } from './holder-registry.js';
import type { OpenTelemetry } from './otel-api.js';
import { SPAN_ATTRIBUTES, SPAN_NAMES } from './telemetry-names.js';

/**
 * Hold spans open at most: a lock whose release could not be confirmed (no quorum answered)
 * sends no message, and its span must not stay in memory forever.
 */
const MAX_OPEN_HOLDS = 10_000;

interface OpenHold {
  readonly span: Span;
  readonly resources: readonly string[];
}

/**
 * The spans of locks, built from the diagnostics channel messages after the fact:
 *
 * - `redlock.acquire`: the wait, from the call (`now - waited`) to the outcome, a child of the
 *   caller's active span; it links to the `redlock.hold` spans of the holders (of this process)
 *   that held the resources while it waited.
 * - `redlock.hold`: from the acquisition to the release or loss (status error when lost), a
 *   child of the caller's active span at acquisition, linked to its `redlock.acquire` span.
 *
 * Times are epoch ms from `performance.timeOrigin + performance.now()`, the clock the SDK uses.
 */
export class LockTraces {
  private readonly holds = new Map<number, OpenHold>();
  private readonly holders = new HolderRegistry();

  constructor(
    private readonly api: OpenTelemetry,
    private readonly tracer: Tracer,
  ) {}

  acquired(message: RedlockAcquireMessage, now: number): void {
    const { api } = this;
    const parent = api.context.active();
    const start = now - message.waited;
    // An acquisition that got in at the first attempt waited for nobody.
    const contended = message.outcome !== 'acquired' || message.attempts > 1;
    const links: Link[] = contended
      ? this.holders
          .since(message.resources, start, message.lockId)
          .map((context) => ({ context, attributes: { [SPAN_ATTRIBUTES.link]: 'holder' } }))
      : [];
    const attributes: Attributes = {
      [SPAN_ATTRIBUTES.resources]: [...message.resources],
      [SPAN_ATTRIBUTES.outcome]: message.outcome,
      [SPAN_ATTRIBUTES.attempts]: message.attempts,
    };
    if (message.error) attributes[SPAN_ATTRIBUTES.errorType] = message.error.name;
    const wait = this.tracer.startSpan(
      SPAN_NAMES.acquire,
      { kind: api.SpanKind.INTERNAL, startTime: start, links, attributes },
      parent,
    );
    // Busy is an answer (tryAcquire returns null); no quorum or a failure is an error.
    if (message.outcome === 'unavailable' || message.outcome === 'error') {
      wait.setStatus({ code: api.SpanStatusCode.ERROR, message: message.error?.message });
    }
    wait.end(now);
    if (message.lockId === undefined) return;

    const holdAttributes: Attributes = {
      [SPAN_ATTRIBUTES.resources]: [...message.resources],
      [SPAN_ATTRIBUTES.lockId]: message.lockId,
    };
    if (message.mode) holdAttributes[SPAN_ATTRIBUTES.mode] = message.mode;
    if (message.fencingToken !== undefined) {
      holdAttributes[SPAN_ATTRIBUTES.fencingToken] = message.fencingToken;
    }
    const hold = this.tracer.startSpan(
      SPAN_NAMES.hold,
      {
        kind: api.SpanKind.INTERNAL,
        startTime: now,
        links: [{ context: wait.spanContext(), attributes: { [SPAN_ATTRIBUTES.link]: 'acquire' } }],
        attributes: holdAttributes,
      },
      parent,
    );
    this.holds.set(message.lockId, { span: hold, resources: message.resources });
    this.holders.hold(message.resources, message.lockId, hold.spanContext());
    if (this.holds.size > MAX_OPEN_HOLDS) {
      const [oldest, open] = this.holds.entries().next().value!;
      open.span.setAttribute('redlock.hold.abandoned', true);
      this.end(oldest, now);
    }
  }

  released(message: RedlockReleaseMessage, now: number): void {
    this.holds
      .get(message.lockId)
      ?.span.setAttribute(SPAN_ATTRIBUTES.releaseStatus, message.status);
    this.end(message.lockId, now);
  }

  lost(message: RedlockLostMessage, now: number): void {
    const open = this.holds.get(message.lockId);
    if (!open) return;
    open.span.recordException(message.error);
    open.span.setStatus({ code: this.api.SpanStatusCode.ERROR, message: message.error.message });
    open.span.setAttribute(SPAN_ATTRIBUTES.errorType, message.error.name);
    this.end(message.lockId, now);
  }

  extended(message: RedlockExtendMessage): void {
    this.holds
      .get(message.lockId)
      ?.span.addEvent('redlock.extended', { 'redlock.expires_at': message.expiresAt });
  }

  /** `@WithLock({ onBusy: 'skip' })` did not run its method: an event on the caller's span. */
  skipped(message: RedlockBusyMessage): void {
    const attributes: Attributes = {
      [SPAN_ATTRIBUTES.resources]: [...message.resources],
      'code.function': message.method,
    };
    if (message.retryAfter !== undefined) {
      attributes[SPAN_ATTRIBUTES.retryAfter] = message.retryAfter;
    }
    this.api.trace.getActiveSpan()?.addEvent('redlock.skipped', attributes);
  }

  /** Ends the hold spans still open (instrumentation turned off). */
  close(now: number): void {
    for (const lockId of [...this.holds.keys()]) this.end(lockId, now);
  }

  private end(lockId: number, now: number): void {
    const open = this.holds.get(lockId);
    if (!open) return;
    this.holds.delete(lockId);
    this.holders.release(open.resources, lockId, now);
    open.span.end(now);
  }
}
