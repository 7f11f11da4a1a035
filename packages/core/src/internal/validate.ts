/**
 * Eager option validation. Every message names the option and the value it got, so a typo in a config
 * object fails at start-up with a message that says where to look.
 */
function describe(value: unknown): string {
  if (typeof value === 'string') return `"${value}" (string)`;
  if (typeof value === 'number' || typeof value === 'boolean') return `${String(value)} (${typeof value})`;
  if (value === null) return 'null';
  return typeof value;
}

/**
 * A refused option: a TypeError whose message names the option and the value, and which carries the
 * option's path and what it expects, so a caller that set the option from elsewhere (an environment
 * variable) can say where without parsing the message. Both are private fields behind getters, not
 * own properties: to its users it stays the TypeError it always was (equal to one with its message).
 */
export class OptionError extends TypeError {
  readonly #option: string;
  readonly #expected: string;

  constructor(option: string, expected: string, value: unknown) {
    super(`Expected ${option} to be ${expected}, got ${describe(value)}`);
    this.#option = option;
    this.#expected = expected;
  }

  /** The option's path, e.g. `queue.timeoutMs`. */
  get option(): string {
    return this.#option;
  }

  /** What the option must be, e.g. `an integer >= 1`. */
  get expected(): string {
    return this.#expected;
  }
}

export function assertInteger(
  name: string,
  value: unknown,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `between ${min} and ${max}`;
    throw new OptionError(name, `an integer ${range}`, value);
  }
}

export function assertNumber(
  name: string,
  value: unknown,
  min: number,
  max = Number.POSITIVE_INFINITY,
): void {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max) {
    const range = max === Number.POSITIVE_INFINITY ? `>= ${min}` : `between ${min} and ${max}`;
    throw new OptionError(name, `a number ${range}`, value);
  }
}

/** A finite number (not NaN, not ±Infinity), at least `min` when given. */
export function assertFiniteNumber(name: string, value: unknown, min?: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || (min !== undefined && value < min)) {
    const range = min === undefined ? '' : ` >= ${min}`;
    throw new OptionError(name, `a finite number${range}`, value);
  }
}

export function assertOneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): void {
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw new OptionError(name, `one of ${allowed.join(', ')}`, value);
  }
}

export function assertFunction(name: string, value: unknown): void {
  if (typeof value !== 'function') throw new OptionError(name, 'a function', value);
}
