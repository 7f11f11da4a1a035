import type { RetryOptions } from './retry-options.js';

/**
 * The wait before retry number `retry` (1 for the first retry): exponential from `baseDelayMs`, capped
 * at `maxDelayMs`, jittered so that many clients failing together do not retry together, and never
 * shorter than the `floorMs` the error asked for (e.g. longer after "too many connections").
 */
export function backoffDelay(
  retry: number,
  options: Pick<RetryOptions, 'baseDelayMs' | 'maxDelayMs' | 'jitter'>,
  random: () => number,
  floorMs = 0,
): number {
  const exponential = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.max(0, retry - 1));
  let delay: number;
  switch (options.jitter) {
    case 'none':
      delay = exponential;
      break;
    case 'full':
      delay = random() * exponential;
      break;
    default:
      delay = exponential / 2 + (random() * exponential) / 2;
  }
  return Math.round(Math.min(options.maxDelayMs, Math.max(delay, floorMs)));
}
