/**
 * An abort signal made on first access: most operations never ask for theirs, and an AbortController
 * costs more than the rest of a nested call. It can be aborted before anyone asked for it; a signal
 * handed out later is already aborted, with the same reason.
 */
export class LazySignal {
  private controller: AbortController | undefined = undefined;
  private reason: unknown = undefined;
  private aborted = false;

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  /** Aborts the signal (now, or when it is made); only the first reason counts. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }
}
