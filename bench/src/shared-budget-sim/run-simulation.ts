import { CrashWatch } from './crash-watch.js';
import { exponential, SimClock, seededRandom } from './sim-clock.js';
import { bandNames, type InstanceObserver, type Operation, SimInstance } from './sim-instance.js';
import { SimulatedRedis } from './simulated-redis.js';

/** A scenario: the fleet, its demand, and the budget's timing. */
export interface SimulationOptions {
  instances: number;
  capacity: number;
  seconds: number;
  /** Offered load as a share of the capacity (1 = on average exactly the capacity is wanted). */
  load: number;
  /** Mean duration of one database operation, ms. */
  operationMs: number;
  /** Mean one-way latency to Redis, ms. */
  latencyMs: number;
  leaseMs: number;
  refreshMs: number;
  /** Share of instances that join mid-run (new instances). */
  lateJoiners: number;
  /** Share of instances that freeze while idle between bursts (serverless functions). */
  freezers: number;
  /** Instances killed (SIGKILL) at random moments of the run's middle, among those holding slots. */
  crashes: number;
  /**
   * 1: instances watch their Redis connections, so a killed one's slots come back once its connection
   * is gone and its lease is stale; 0: only when its lease runs out.
   */
  reclaim: number;
  seed: number;
}

export const defaultSimulationOptions: SimulationOptions = {
  instances: 1000,
  capacity: 100,
  seconds: 60,
  load: 1.2,
  operationMs: 10,
  latencyMs: 1,
  leaseMs: 5000,
  refreshMs: 500,
  lateJoiners: 0.1,
  freezers: 0.5,
  crashes: 20,
  reclaim: 1,
  seed: 1,
};

/** Priority mix of arrivals, by band (BATCH ... CRITICAL). */
const priorityMix = [0.1, 0.2, 0.49, 0.2, 0.01];
const burstOnMs = 2000;
const burstOffMs = 6000;
const queueTimeoutMs = 10_000;

export interface Percentiles {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface SimulationResult {
  options: SimulationOptions;
  maxInUse: number;
  utilisation: number;
  /** Utilisation over the time when the instances together wanted at least the capacity. */
  utilisationWhenSaturated: number;
  saturatedShare: number;
  firstSlotNew: Percentiles;
  firstSlotWoken: Percentiles;
  waitByPriority: Record<string, Percentiles & { offered: number; timedOut: number }>;
  /** Jain's index of served / offered over instances that offered at least 20 operations (1 = perfectly even). */
  instanceFairness: number;
  instancesCounted: number;
  redisCallsPerSecond: number;
  redisCallsPerInstancePerSecond: number;
  /** Killed instances: from the kill until Redis dropped the lease (its slots free for others). */
  crashFreed: Percentiles & { reaped: number; expired: number };
  /** From the kill until the others held the freed slots (see `CrashTimes.takenUp`). */
  crashTakenUp: Percentiles;
  /** Suspect checks (CLIENT LIST) and reaping calls per second. */
  checksPerSecond: number;
  reapsPerSecond: number;
  operationsPerSecond: number;
  simulatedEvents: number;
  wallSeconds: number;
}

function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { count: sorted.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted.at(-1) ?? 0 };
}

function pickBand(random: () => number): number {
  let r = random();
  for (let band = 0; band < priorityMix.length; band++) {
    r -= priorityMix[band]!;
    if (r < 0) return band;
  }
  return 2;
}

/**
 * Runs the shared budget's real client and allocation code for `seconds` of simulated time: many
 * instances with skewed (Zipf) and bursty (on/off) demand, some joining late, some freezing while
 * idle, all sharing one capacity through a simulated Redis.
 */
export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  const wallStart = performance.now();
  const random = seededRandom(options.seed);
  const sim = new SimClock();
  const redis = new SimulatedRedis(sim, random, { latencyMs: options.latencyMs, serviceMs: 0.02 });
  const endAt = options.seconds * 1000;

  let inUse = 0;
  let maxInUse = 0;
  let wanted = 0;
  let lastChange = 0;
  let busyArea = 0;
  let saturatedTime = 0;
  let saturatedBusyArea = 0;
  const account = () => {
    const now = sim.now();
    const dt = now - lastChange;
    busyArea += inUse * dt;
    if (wanted >= options.capacity) {
      saturatedTime += dt;
      saturatedBusyArea += inUse * dt;
    }
    lastChange = now;
  };
  const waits: number[][] = [[], [], [], [], []];
  const offered = [0, 0, 0, 0, 0];
  const timedOut = [0, 0, 0, 0, 0];
  const firstSlot = { new: [] as number[], woken: [] as number[] };
  let served = 0;

  const observer: InstanceObserver = {
    started(_instance, op, waitedMs) {
      account();
      inUse += 1;
      if (inUse > maxInUse) maxInUse = inUse;
      waits[op.band]!.push(waitedMs);
    },
    finished() {
      account();
      inUse -= 1;
      served += 1;
    },
    timedOut(_instance, op) {
      timedOut[op.band]! += 1;
    },
    firstSlot(_instance, kind, waitedMs) {
      if (sim.now() < endAt) firstSlot[kind].push(waitedMs);
    },
    demandChanged(delta) {
      account();
      wanted += delta;
    },
  };

  // Zipf weights: a few instances carry most of the demand.
  const weights = Array.from({ length: options.instances }, (_, i) => 1 / (i + 1));
  const weightSum = weights.reduce((sum, w) => sum + w, 0);
  const dutyCycle = burstOnMs / (burstOnMs + burstOffMs);
  const totalRate = (options.load * options.capacity) / options.operationMs; // operations per ms
  const instances: SimInstance[] = [];

  const startInstance = (index: number) => {
    const instance = new SimInstance(
      {
        id: `i${index}`,
        clientId: options.reclaim > 0 ? index + 1 : 0,
        capacity: options.capacity,
        leaseMs: options.leaseMs,
        refreshMs: options.refreshMs,
        queueTimeoutMs,
      },
      sim,
      redis,
      observer,
    );
    instances.push(instance);
    const rate = (totalRate * weights[index]!) / weightSum / dutyCycle;
    const freezes = random() < options.freezers;
    // Alternating bursts and pauses; a freezer freezes through each pause once it is idle.
    const burst = (first: boolean) => {
      const onFor = exponential(random, burstOnMs);
      const burstEnd = sim.now() + onFor;
      const arrive = () => {
        if (sim.now() >= burstEnd || sim.now() >= endAt) return;
        instance.arrive({
          band: pickBand(random),
          arrivedAt: sim.now(),
          durationMs: Math.max(0.5, exponential(random, options.operationMs)),
          timedOut: false,
        } satisfies Operation);
        sim.setTimeout(arrive, exponential(random, 1 / rate));
      };
      sim.setTimeout(arrive, first ? 0 : exponential(random, 1 / rate));
      sim.setTimeout(() => {
        const offFor = exponential(random, burstOffMs);
        const wakeAt = sim.now() + offFor;
        if (freezes) {
          const tryFreeze = () => {
            if (sim.now() >= wakeAt) return;
            if (instance.isIdle) instance.freeze(wakeAt);
            else sim.setTimeout(tryFreeze, 50);
          };
          tryFreeze();
        }
        sim.setTimeout(() => burst(false), offFor);
      }, onFor);
    };
    // Instances start at a random point of their cycle, so bursts do not line up.
    sim.setTimeout(() => burst(true), random() * (burstOnMs + burstOffMs));
  };

  // Kills: each at a random moment between 20% and 80% of the run, of a running instance holding
  // slots (the most useful to others), or of any running one if none does.
  const crashWatch = new CrashWatch(sim, redis);
  const crashRandom = seededRandom(options.seed + 7919);
  for (let n = 0; n < options.crashes; n++) {
    sim.setTimeout(
      () => {
        const running = instances.filter((instance) => !instance.crashed && !instance.isFrozen);
        const holding = running.filter((instance) => redis.state.leases.get(instance.options.id)?.grant);
        const pool = holding.length > 0 ? holding : running;
        const victim = pool[Math.floor(crashRandom() * pool.length)];
        if (!victim) return;
        victim.crash(redis);
        crashWatch.killed(victim.options.id);
      },
      endAt * (0.2 + 0.6 * crashRandom()),
    );
  }

  for (let index = 0; index < options.instances; index++) {
    if (random() < options.lateJoiners) {
      const joinAt = endAt * (0.1 + 0.7 * random());
      sim.setTimeout(() => startInstance(index), joinAt);
    } else {
      startInstance(index);
    }
  }

  await sim.run(endAt);
  account();
  for (const instance of instances) instance.budget.close().catch(() => undefined);

  const counted = instances.filter((instance) => instance.offered >= 20);
  const crashTimes = crashWatch.times();
  const ratios = counted.map((instance) => instance.served / instance.offered);
  const sum = ratios.reduce((a, b) => a + b, 0);
  const squares = ratios.reduce((a, b) => a + b * b, 0);
  const waitByPriority: SimulationResult['waitByPriority'] = {};
  for (let band = 4; band >= 0; band--) {
    offered[band] = waits[band]!.length + timedOut[band]!;
    waitByPriority[bandNames[band]!] = {
      ...percentiles(waits[band]!),
      offered: offered[band]!,
      timedOut: timedOut[band]!,
    };
  }
  return {
    options,
    maxInUse,
    utilisation: busyArea / (options.capacity * endAt),
    utilisationWhenSaturated:
      saturatedTime === 0 ? 0 : saturatedBusyArea / (options.capacity * saturatedTime),
    saturatedShare: saturatedTime / endAt,
    firstSlotNew: percentiles(firstSlot.new),
    firstSlotWoken: percentiles(firstSlot.woken),
    waitByPriority,
    instanceFairness: counted.length === 0 ? 1 : (sum * sum) / (counted.length * squares),
    instancesCounted: counted.length,
    crashFreed: {
      ...percentiles(crashTimes.freed),
      reaped: crashTimes.reaped,
      expired: crashTimes.freed.length - crashTimes.reaped,
    },
    crashTakenUp: percentiles(crashTimes.takenUp),
    checksPerSecond: redis.checks / options.seconds,
    reapsPerSecond: redis.reaps / options.seconds,
    redisCallsPerSecond: redis.calls / options.seconds,
    redisCallsPerInstancePerSecond: redis.calls / options.seconds / options.instances,
    operationsPerSecond: served / options.seconds,
    simulatedEvents: sim.events,
    wallSeconds: (performance.now() - wallStart) / 1000,
  };
}
