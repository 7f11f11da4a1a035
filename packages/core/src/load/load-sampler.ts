/**
 * What a load sampler reads of the process: the event loop and memory. Every field is optional: a
 * runtime that cannot measure one leaves it out, and a signal without a reading never sheds.
 */
export interface LoadSample {
  /**
   * How late the event loop gets to new work, in ms, over the window since the previous sample: the
   * lag a request arriving at a random moment meets (the process sampler: the turn length 99 % of the
   * time was spent in turns no longer than, minus its timer's interval). A loop busy with one long
   * task, or with too many short ones, shows here first.
   */
  eventLoopDelayMs?: number;
  /** Share of the time since the previous sample the event loop was busy, 0 to 1. */
  eventLoopUtilization?: number;
  /** V8 heap in use, in bytes. */
  heapUsedBytes?: number;
  /** Resident set size of the process, in bytes. */
  rssBytes?: number;
}

/**
 * The source of {@link LoadSample}s for the load monitor (`SafeguardsOptions.load.sampler`). Each call
 * of `sample` reads the window since the previous call (and starts a new one). Use
 * `createProcessLoadSampler()` on Node; tests pass their own to set the readings by hand.
 */
export interface LoadSampler {
  /**
   * `purpose`: `'admission'` when a call is being admitted (the default), `'report'` when metrics or
   * health read the load with no call in sight. A sampler may idle while only reports read it (the
   * process sampler pauses its timer then: an idle process has no lag to measure).
   */
  sample(purpose?: LoadSamplePurpose): LoadSample;
  /** Stops whatever the sampler runs (the event-loop monitor); called by `Safeguards.close`. */
  close?(): void;
}

/** Why the load monitor takes a reading: see {@link LoadSampler.sample}. */
export type LoadSamplePurpose = 'admission' | 'report';
