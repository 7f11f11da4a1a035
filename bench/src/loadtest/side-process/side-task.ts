import type { HealthProbeReport } from '../health-prober.js';
import type { RequestRecord } from '../open-loop.js';
import type { ScenarioName, VirtualUser } from '../scenarios.js';

/** A user as another process can rebuild it: everything but the client, which it makes itself. */
export type PortableUser = Omit<VirtualUser, 'client'>;

/** Health checks at a steady rate until stopped (see `probeHealth`). */
export interface HealthTask {
  kind: 'health';
  url: string;
  intervalMs: number;
  timeoutMs: number;
}

/** An open loop of its own (see `runOpenLoop`), from a process other than the main load's. */
export interface OpenLoopTask {
  kind: 'open-loop';
  baseUrl: string;
  users: PortableUser[];
  ratePerSecond: number;
  durationMs: number;
  mix: Record<ScenarioName, number>;
  drainMs: number;
  /** Calls made (one after another, not measured) before the task reports itself ready. */
  warmUpCalls: number;
}

export type SideTask = HealthTask | OpenLoopTask;

export type SideResult<T extends SideTask> = T extends HealthTask ? HealthProbeReport : RequestRecord[];

/**
 * Messages from the parent: `start` hands over the task, which prepares and answers `ready`; `go`
 * starts the measured run; `stop` ends a task that runs until told (health checks).
 */
export type ToSide = { type: 'start'; task: SideTask } | { type: 'go' } | { type: 'stop' };

/** Messages to the parent. */
export type FromSide =
  | { type: 'ready' }
  | { type: 'result'; result: HealthProbeReport | RequestRecord[] }
  | { type: 'failed'; message: string };
