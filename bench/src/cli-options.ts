/** The bench commands' `--name value` options, read from `process.argv`. */

/** The value after `--name`, if given. */
export function textOption(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

/** `--name N`, an integer ≥ 1 (`fallback` when not given); anything else throws, naming the option. */
export function countOption(name: string, fallback: number): number {
  const raw = textOption(name);
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be an integer >= 1`);
  return value;
}
