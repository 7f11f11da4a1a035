/** Something that can be turned off, such as an event subscription. */
export interface Disposable {
  dispose(): void;
}

/** A typed event: call it with a listener to subscribe; the returned handle unsubscribes. */
export type Event<T> = (listener: (event: T) => void) => Disposable;

const disposeSymbol: symbol | undefined = (Symbol as { dispose?: symbol }).dispose;

/**
 * A minimal event source. Emitting with no listeners costs one property read, and callers that build
 * event payloads check {@link EventEmitter.hasListeners} first, so unused events cost nothing.
 */
export class EventEmitter<T> {
  private listeners: Array<(event: T) => void> | undefined;

  /** The subscription function handed out to consumers. */
  readonly event: Event<T> = (listener) => {
    if (this.listeners === undefined) this.listeners = [listener];
    else this.listeners = [...this.listeners, listener];
    let active = true;
    const handle: Disposable = {
      dispose: () => {
        if (!active) return;
        active = false;
        const remaining = this.listeners?.filter((candidate) => candidate !== listener) ?? [];
        this.listeners = remaining.length === 0 ? undefined : remaining;
      },
    };
    if (disposeSymbol) (handle as unknown as Record<symbol, () => void>)[disposeSymbol] = handle.dispose;
    return handle;
  };

  get hasListeners(): boolean {
    return this.listeners !== undefined;
  }

  emit(value: T): void {
    const listeners = this.listeners;
    if (listeners === undefined) return;
    for (const listener of listeners) {
      try {
        listener(value);
      } catch (error) {
        // A broken log or metrics listener must never fail the database operation that emitted the event.
        console.error('[db-safeguards] an event listener threw', error);
      }
    }
  }
}
