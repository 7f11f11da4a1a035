import type { Clock } from '@db-safeguards/core';

/**
 * Leases are measured as durations on this process's monotonic clock (never compared with another
 * machine's time), so a wall-clock step (NTP, a VM resumed) cannot stretch one. Timers are unref'd: a
 * budget never keeps a process alive.
 */
export const monotonicClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimeout(callback, ms) {
    const handle = setTimeout(callback, ms);
    handle.unref();
    return handle;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};
