import { resolve } from 'node:path';

/**
 * Where to write a file named on a benchmark's command line. `pnpm <script>` runs the script in the
 * bench package, so a relative path is taken from where the user typed the command (`INIT_CWD`, which
 * pnpm and npm set), as they expect: `pnpm loadtest -- --out docs/x.json` at the root writes docs/x.json.
 */
export function outputPath(path: string): string {
  return resolve(process.env.INIT_CWD ?? process.cwd(), path);
}
