/** Eager option validation with the core's message pattern: the option's name, what was expected, what came in. */
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

export function assertString(name: string, value: unknown, pattern: RegExp, hint: string): void {
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new TypeError(`Expected ${name} to be ${hint}, got ${describe(value)}`);
  }
}
