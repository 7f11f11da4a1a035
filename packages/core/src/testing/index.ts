/**
 * Test helpers for code built on db-safeguards: a manual clock, and errors shaped like each
 * driver's, for exercising error handling without a failing database.
 */

export { type DriverErrorSample, driverErrorSamples } from './driver-error-samples.js';
export { flushMicrotasks, ManualClock } from './manual-clock.js';
