import {
  createProcessLoadSampler,
  type LoadSample,
  type LoadSampler,
  type ProcessLoadSamplerOptions,
} from '@db-safeguards/core';

/** A {@link LoadSampler} that reads nothing until {@link ServingLoadSampler.startServing}. */
export interface ServingLoadSampler extends LoadSampler {
  /** From now on the process's load is read; what ran before (the start) is forgotten. */
  startServing(): void;
}

const nothing: LoadSample = {};

/**
 * The process's load sampler, silent while the app starts: compiling PGlite, migrating and seeding
 * keep the event loop busy, and that is not load. Read then, it would refuse the start's own work
 * (a migration refused as `overloaded` stops the start) and the first requests after it.
 */
export function createServingLoadSampler(options: ProcessLoadSamplerOptions = {}): ServingLoadSampler {
  const process = createProcessLoadSampler(options);
  let serving = false;
  return {
    sample: (purpose) => (serving ? process.sample(purpose) : nothing),
    startServing() {
      // A reading now ends the window the start ran in: the next one begins here.
      process.sample();
      serving = true;
    },
    close: () => process.close?.(),
  };
}
