/** The reason a lease's signal aborts with when the lock is released. */
export function releasedReason(): DOMException {
  return new DOMException('The lock was released.', 'AbortError');
}

/**
 * Makes `signal.aborted` and `signal.throwIfAborted()` check the lease's deadline before they
 * answer. The abort itself comes from a timer, and a timer cannot fire while the event loop is
 * blocked: without this, code resuming after a long pause would see `aborted === false` for a
 * lock that has already expired.
 */
export function watchDeadline(signal: AbortSignal, check: () => void): void {
  // The prototype's getters, called with the signal as receiver: its own state, checked first.
  const proto = AbortSignal.prototype;
  const aborted = (): boolean => {
    check();
    return Boolean(Reflect.get(proto, 'aborted', signal));
  };
  Object.defineProperties(signal, {
    aborted: { configurable: true, get: aborted },
    throwIfAborted: {
      configurable: true,
      value: () => {
        if (aborted()) throw Reflect.get(proto, 'reason', signal);
      },
    },
  });
}
