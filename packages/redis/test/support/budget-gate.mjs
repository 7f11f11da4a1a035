/**
 * A minimal stand-in for the core's connection queue, for the budget's tests: callers wait for a slot
 * in priority order, at most `budget.limit` run at once, and every change is reported as demand. (The
 * core's real queue adopts the budget in issue 14, part A.)
 */
const names = ['BATCH', 'LOW', 'NORMAL', 'HIGH', 'CRITICAL'];
const bandOf = { BATCH: 0, LOW: 1, NORMAL: 2, HIGH: 3, CRITICAL: 4 };

export class BudgetGate {
  constructor(budget) {
    this.budget = budget;
    this.waiting = [[], [], [], [], []];
    this.running = [0, 0, 0, 0, 0];
    this.inUse = 0;
    budget.onLimitChange(() => this.dispatch());
  }

  /** Resolves with a release function once a slot is free for `priority` (a name). */
  acquire(priority) {
    return new Promise((resolve) => {
      this.waiting[bandOf[priority]].push(resolve);
      this.dispatch();
      this.report();
    }).then((band) => {
      let released = false;
      return () => {
        if (released) return;
        released = true;
        this.running[band] -= 1;
        this.inUse -= 1;
        this.dispatch();
        this.report();
      };
    });
  }

  dispatch() {
    while (this.inUse < this.budget.limit) {
      const band = [4, 3, 2, 1, 0].find((b) => this.waiting[b].length > 0);
      if (band === undefined) return;
      const resolve = this.waiting[band].shift();
      this.running[band] += 1;
      this.inUse += 1;
      resolve(band);
    }
  }

  report() {
    const wanted = {};
    for (let band = 0; band < 5; band++) wanted[names[band]] = this.running[band] + this.waiting[band].length;
    this.budget.reportDemand({ inUse: this.inUse, wanted });
  }
}

/**
 * Counts work in progress across processes in Redis, and the most ever seen at once: the measured
 * interval lies inside the slot (counted after the slot is taken, uncounted before it is given back),
 * so a peak above the capacity means the budget really let too much run.
 */
export const trackPeakLua = `
redis.call('HINCRBY', KEYS[1] .. ':by-process', ARGV[2], ARGV[1])
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
local peak = tonumber(redis.call('GET', KEYS[2]) or '0')
if n > peak then redis.call('SET', KEYS[2], n) end
return n
`;

/**
 * A killed process's connections close with it: its work in progress leaves the count (it could not
 * decrement it itself).
 */
export const forgetProcessLua = `
local n = tonumber(redis.call('HGET', KEYS[1] .. ':by-process', ARGV[1]) or '0')
redis.call('HDEL', KEYS[1] .. ':by-process', ARGV[1])
return redis.call('DECRBY', KEYS[1], n)
`;

/** Runs `clients` closed loops of `priority` work (durations in ms) through `gate` until `signal` aborts. */
export async function runClosedLoops({
  gate,
  client,
  counterKey,
  clients,
  priority,
  minMs,
  maxMs,
  signal,
  onDone,
}) {
  const work = async () => {
    while (!signal.aborted) {
      const release = await gate.acquire(priority);
      try {
        if (signal.aborted) return;
        await client.eval(trackPeakLua, 2, counterKey, `${counterKey}:peak`, 1, process.pid);
        await new Promise((resolve) => setTimeout(resolve, minMs + Math.random() * (maxMs - minMs)));
        await client.eval(trackPeakLua, 2, counterKey, `${counterKey}:peak`, -1, process.pid);
        onDone?.();
      } finally {
        release();
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, work));
}
