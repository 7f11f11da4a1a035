/**
 * `KEY=VALUE,KEY=VALUE` (the benchmarks' `--app-env` option) as an environment for the app process,
 * e.g. `--app-env LOAD_SHEDDING=off` to compare a run with load shedding off.
 */
export function parseAppEnv(text: string | undefined): Record<string, string> {
  if (text === undefined) return {};
  return Object.fromEntries(
    text.split(',').map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new Error(`--app-env: expected KEY=VALUE, got "${pair}"`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}
