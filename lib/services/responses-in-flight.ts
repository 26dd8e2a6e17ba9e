/**
 * The HTTP responses still being written, so that shutdown can let them go out before Nest
 * closes the HTTP server (see `RedlockService.beforeApplicationShutdown`).
 *
 * A handler releases its lock a moment before Nest writes its response; a response still being
 * written when the server closes keeps its keep-alive connection, and with it the server, open
 * until the keep-alive timeout (72 s on Fastify).
 */
export class ResponsesInFlight {
  readonly #open = new Set<object>();
  #allDone: (() => void) | undefined;

  /** Responses not yet written (nor abandoned by their client). */
  get size(): number {
    return this.#open.size;
  }

  /** Follows `response` (Express's Node response, or Fastify's reply around it) until it closes. */
  track(response: unknown): void {
    const raw = ((response as { raw?: unknown } | null)?.raw ?? response) as {
      once?: (event: string, listener: () => void) => unknown;
      writableFinished?: boolean;
    } | null;
    if (typeof raw?.once !== 'function' || raw.writableFinished) return;
    this.#open.add(raw);
    // 'close' follows 'finish' for a written response and also comes when the client left.
    raw.once('close', () => {
      this.#open.delete(raw);
      if (this.#open.size === 0) this.#allDone?.();
    });
  }

  /** Resolves once every response followed is done, or after `timeout` ms, whichever is first. */
  async settled(timeout: number): Promise<void> {
    if (this.#open.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.#allDone = resolve;
      timer = setTimeout(resolve, timeout);
      timer.unref();
    });
    clearTimeout(timer);
    this.#allDone = undefined;
  }
}
