/** What a close function may return: anything, or a promise of anything. */
type Close<T> = (resource: T) => unknown;

/**
 * Closes what a setup has started, last started first. Each resource is registered as soon as it is
 * up, so a setup that fails halfway closes exactly what it had started, and one close that rejects
 * does not keep the others open.
 */
export interface Teardown {
  /** Registers a resource that has just started, with how to close it; returns the resource. */
  add<T>(label: string, resource: T, close: Close<T>): T;
  /** Labels of the resources closed so far, in the order they were closed. */
  readonly closed: readonly string[];
  /**
   * Closes every resource registered and not closed yet, last first, each once. Every close is
   * tried; then it rejects with the error if one failed, an AggregateError if several did.
   */
  close(): Promise<void>;
}

export function createTeardown(): Teardown {
  const open: Array<{ label: string; close: () => unknown }> = [];
  const closed: string[] = [];
  return {
    add(label, resource, close) {
      open.push({ label, close: () => close(resource) });
      return resource;
    },
    closed,
    async close() {
      const errors: unknown[] = [];
      for (let entry = open.pop(); entry !== undefined; entry = open.pop()) {
        try {
          await entry.close();
        } catch (error) {
          errors.push(error);
        }
        closed.push(entry.label);
      }
      if (errors.length === 1) throw errors[0];
      if (errors.length > 1) throw new AggregateError(errors, `${errors.length} resources failed to close`);
    },
  };
}
