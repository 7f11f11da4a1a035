import { describeFailure } from './describe-failure.js';
import {
  runScenario,
  type ScenarioName,
  scenarioNames,
  scenarioPriority,
  type VirtualUser,
} from './scenarios.js';

/** One request the load generator sent, and how it ended. */
export interface RequestRecord {
  scenario: ScenarioName;
  priority: (typeof scenarioPriority)[ScenarioName];
  /** Milliseconds after the run started. */
  sentAtMs: number;
  /** When it ended, milliseconds after the run started (for UNFINISHED: when the tool stopped waiting). */
  completedAtMs: number;
  latencyMs: number;
  ok: boolean;
  /**
   * For failures: the error type the server reported (`userFriendly.type`), `HTTP_<status>` for an
   * answer without one, NETWORK when no answer came, UNFINISHED when none had come by the end of the
   * drain window.
   */
  errorType?: string;
  reason?: string;
  status?: number;
}

export interface OpenLoopOptions {
  users: readonly VirtualUser[];
  /** Requests started per second, whatever the server's pace (open loop: it can exceed capacity). */
  ratePerSecond: number;
  durationMs: number;
  /** Relative weights of the scenarios. */
  mix: Record<ScenarioName, number>;
  /** Requests allowed in flight; arrivals beyond are counted as dropped by the client. */
  maxInFlight: number;
  /** How long to wait for the requests still in flight after the run; those still open then count as UNFINISHED. Default 60 000. */
  drainMs?: number;
  /** Called about once a second with a live snapshot. */
  onProgress?: (progress: Progress) => void;
  /** Sends one call; default {@link runScenario} (the tRPC client). */
  call?: (scenario: ScenarioName, user: VirtualUser) => Promise<unknown>;
}

export interface Progress {
  elapsedMs: number;
  sent: number;
  completed: number;
  ok: number;
  failed: number;
  inFlight: number;
  droppedByClient: number;
}

export interface OpenLoopResult {
  /** One per request sent: answered, failed, or UNFINISHED. */
  records: RequestRecord[];
  durationMs: number;
  /** From the first arrival to the end of the drain: what the run really took. */
  elapsedMs: number;
  droppedByClient: number;
}

function pickScenario(mix: Record<ScenarioName, number>): () => ScenarioName {
  const total = scenarioNames.reduce((sum, name) => sum + mix[name], 0);
  return () => {
    let roll = Math.random() * total;
    for (const name of scenarioNames) {
      roll -= mix[name];
      if (roll < 0) return name;
    }
    return scenarioNames[0]!;
  };
}

/**
 * Sends requests at a fixed arrival rate for `durationMs`, spread evenly over time and over the
 * users, then waits for the ones still in flight. Because arrivals do not wait for completions, the
 * offered load can exceed what the server can do: that is how overload is produced.
 */
export async function runOpenLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const records: RequestRecord[] = [];
  const pending = new Map<Promise<void>, Omit<RequestRecord, 'completedAtMs' | 'latencyMs' | 'ok'>>();
  const pick = pickScenario(options.mix);
  const call = options.call ?? runScenario;
  const started = performance.now();
  let sent = 0;
  let droppedByClient = 0;
  let nextUser = 0;
  /** Set once the unanswered requests are counted as UNFINISHED: a late answer must not count twice. */
  let counted = false;

  const send = () => {
    if (pending.size >= options.maxInFlight) {
      droppedByClient++;
      return;
    }
    const scenario = pick();
    const user = options.users[nextUser++ % options.users.length]!;
    const sentAt = performance.now();
    const request = { scenario, priority: scenarioPriority[scenario], sentAtMs: sentAt - started };
    const ended = () => {
      const now = performance.now();
      return { completedAtMs: now - started, latencyMs: now - sentAt };
    };
    const tracked: Promise<void> = call(scenario, user)
      .then(
        () => {
          if (!counted) records.push({ ...request, ...ended(), ok: true });
        },
        (error: unknown) => {
          if (!counted) records.push({ ...request, ...ended(), ok: false, ...describeFailure(error) });
        },
      )
      .finally(() => pending.delete(tracked));
    pending.set(tracked, request);
    sent++;
  };

  let lastProgress = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - started;
      const due = Math.floor((Math.min(elapsed, options.durationMs) * options.ratePerSecond) / 1000);
      while (sent + droppedByClient < due) send();
      if (options.onProgress && elapsed - lastProgress >= 1000) {
        lastProgress = elapsed;
        const ok = records.filter((record) => record.ok).length;
        options.onProgress({
          elapsedMs: elapsed,
          sent,
          completed: records.length,
          ok,
          failed: records.length - ok,
          inFlight: pending.size,
          droppedByClient,
        });
      }
      if (elapsed >= options.durationMs) {
        clearInterval(timer);
        resolve();
      }
    }, 2);
  });
  // Wait for the stragglers, but not forever (and do not leave the timer holding the process open).
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.allSettled([...pending.keys()]),
    new Promise((resolve) => (timer = setTimeout(resolve, options.drainMs ?? 60_000))),
  ]);
  clearTimeout(timer);
  // Still no answer: counted, not dropped from the report.
  counted = true;
  const now = performance.now();
  for (const request of pending.values()) {
    records.push({
      ...request,
      completedAtMs: now - started,
      latencyMs: now - started - request.sentAtMs,
      ok: false,
      errorType: 'UNFINISHED',
    });
  }
  pending.clear();
  return { records, durationMs: options.durationMs, elapsedMs: now - started, droppedByClient };
}
