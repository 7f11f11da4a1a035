import type { Disposable, Event } from '@db-safeguards/core';

/**
 * A minimal typed event source with the core's `Event` shape (subscribe returns a disposer). The
 * core's own emitter is internal to it; this one is the same idea, kept small.
 */
export class EventEmitter<T> {
  private listeners: Array<(event: T) => void> = [];

  readonly event: Event<T> = (listener) => {
    this.listeners = [...this.listeners, listener];
    const handle: Disposable = {
      dispose: () => {
        this.listeners = this.listeners.filter((candidate) => candidate !== listener);
      },
    };
    return handle;
  };

  emit(value: T): void {
    for (const listener of this.listeners) {
      try {
        listener(value);
      } catch (error) {
        // A broken listener must not break the budget that emitted the event.
        console.error('[db-safeguards/redis] an event listener threw', error);
      }
    }
  }
}
