/**
 * Eager option validation with one message pattern: the option's name, what was expected, what came in.
 * The same pattern as @db-safeguards/core's internal validate.ts, kept as a copy on purpose: core's
 * tests depend on this package, so this package cannot depend on core.
 */
function describe(value: unknown): string {
  if (typeof value === 'string') return `"${value}" (string)`;
  if (typeof value === 'number' || typeof value === 'boolean') return `${String(value)} (${typeof value})`;
  if (value === null) return 'null';
  return typeof value;
}

export function assertInteger(
  name: string,
  value: unknown,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `between ${min} and ${max}`;
    throw new TypeError(`Expected ${name} to be an integer ${range}, got ${describe(value)}`);
  }
}

export function assertNumber(name: string, value: unknown, min: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new TypeError(`Expected ${name} to be a finite number >= ${min}, got ${describe(value)}`);
  }
}

/**
 * Role and database names are spliced into DDL (which takes no parameters), so only plain lower-case
 * identifiers are accepted: nothing to quote, nothing to inject.
 */
export function assertIdentifier(name: string, value: unknown): void {
  if (typeof value !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(value)) {
    throw new TypeError(
      `Expected ${name} to be a lower-case SQL identifier (a-z, 0-9, _; at most 63 characters), got ${describe(value)}`,
    );
  }
}
