/**
 * The driver client handed to `drizzle()` or `safeguardClient()` is not one this package can protect
 * (a version outside the tested range, or not that driver's client at all). Thrown at creation, never
 * at the first query, so a deploy with the wrong version fails at start.
 */
export class UnsupportedDriverError extends TypeError {
  override readonly name = 'UnsupportedDriverError';

  constructor(
    /** The npm package of the driver, e.g. `postgres`. */
    readonly driver: string,
    /** The versions this package is tested with, as an npm range. */
    readonly supportedRange: string,
    detail: string,
  ) {
    super(`@db-safeguards/drizzle supports ${driver}@${supportedRange}: ${detail}`);
  }
}

/** True for an {@link UnsupportedDriverError}, also from another installed copy of this package. */
export function isUnsupportedDriverError(error: unknown): error is UnsupportedDriverError {
  return error instanceof Error && error.name === 'UnsupportedDriverError';
}
