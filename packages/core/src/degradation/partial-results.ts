import { classifyError } from '../errors/classify-error.js';
import type { SafeguardError } from '../errors/safeguard-error.js';

type Loaders = Record<string, () => Promise<unknown>>;

/** What a page made of several independent parts gets when some of them fail. */
export interface PartialResult<L extends Loaders> {
  data: { [K in keyof L]?: Awaited<ReturnType<L[K]>> };
  /** True when at least one part is missing. */
  partial: boolean;
  missing: Array<keyof L & string>;
  errors: { [K in keyof L]?: SafeguardError };
}

/**
 * Loads independent parts concurrently and returns what succeeded, flagged `partial` with the
 * classified error of each missing part, instead of failing the whole page for one part.
 */
export async function gatherPartial<L extends Loaders>(loaders: L): Promise<PartialResult<L>> {
  const names = Object.keys(loaders) as Array<keyof L & string>;
  const settled = await Promise.allSettled(names.map((name) => loaders[name]!()));
  const result: PartialResult<L> = { data: {}, partial: false, missing: [], errors: {} };
  settled.forEach((outcome, index) => {
    const name = names[index]!;
    if (outcome.status === 'fulfilled') {
      result.data[name] = outcome.value as Awaited<ReturnType<L[typeof name]>>;
    } else {
      result.partial = true;
      result.missing.push(name);
      result.errors[name] = classifyError(outcome.reason);
    }
  });
  return result;
}
