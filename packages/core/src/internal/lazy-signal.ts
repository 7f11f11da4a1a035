/**
 * An abort signal made on first access: most operations never ask for theirs, and an AbortController
 * costs more than the rest of a nested call. It can be aborted before anyone asked for it; a signal
 * handed out later is already aborted, with the same reason.
 *
 * `onAbort` listeners need no signal at all: a driver that only wants to cancel its query when the
 * operation is given up (every guarded Drizzle statement) registers a callback, and no AbortController,
 * event listener or event is made for it.
 */
export class LazySignal {
  private controller: AbortController | undefined = undefined;
  private reason: unknown = undefined;
  private aborted = false;
  private listeners: Array<(reason: unknown) => void> | undefined = undefined;

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  /**
   * Calls `listener` once with the reason when this aborts (at once if it already has); returns a
   * function that detaches it. A listener that throws does not keep the others from being called.
   */
  onAbort(listener: (reason: unknown) => void): () => void {
    if (this.aborted) {
      listener(this.reason);
      return noop;
    }
    this.listeners ??= [];
    const listeners = this.listeners;
    listeners.push(listener);
    return () => {
      const at = listeners.indexOf(listener);
      if (at >= 0) listeners.splice(at, 1);
    };
  }

  /** Aborts the signal (now, or when it is made); only the first reason counts. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
    const listeners = this.listeners;
    if (listeners === undefined) return;
    this.listeners = undefined;
    for (const listener of listeners) {
      try {
        listener(reason);
      } catch (error) {
        // Like an event listener's: reported, never thrown into the code that aborted.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}

function noop(): void {}
