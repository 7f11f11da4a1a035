import { describeFailure } from '../describe-failure.js';
import { runScenario, scenarioPriority, type VetmedClient, type VirtualUser } from '../scenarios.js';

/** One closed-loop client: a user calling one instance, one request at a time. */
export interface LoopClient {
  instance: number;
  user: VirtualUser;
  /** A client of that instance, with the user's headers. */
  client: VetmedClient;
  /** What this client does every time; default: a dose recording or a history read, half and half at random. */
  scenario?: 'record' | 'list';
}

/** One request of a closed-loop run. Times are milliseconds after the run started. */
export interface LoopRecord {
  instance: number;
  scenario: 'record' | 'list';
  priority: 'HIGH' | 'NORMAL';
  startedAtMs: number;
  endedAtMs: number;
  ok: boolean;
  errorType?: string;
  reason?: string;
  status?: number;
}

export interface ClosedLoopOptions {
  clients: readonly LoopClient[];
  durationMs: number;
  /** Clients of an instance for which this returns true stop after their current request (a killed instance). */
  isStopped?: (instance: number) => boolean;
  /** `performance.now()` the run's times count from. Default: now. */
  startedAt?: number;
  /** Called with every finished request, as it finishes. */
  onRecord?: (record: LoopRecord) => void;
  /** Sends one call as `caller` (the user with the client's own instance); default {@link runScenario}. */
  call?: (scenario: 'record' | 'list', caller: VirtualUser, instance: number) => Promise<unknown>;
}

/**
 * Each client records a dose (HIGH) or reads a dose history (NORMAL), half and half at random unless
 * it has a fixed `scenario`, and
 * sends its next request when the previous one has answered, until `durationMs` has passed: the
 * offered load follows what the server can do, as users waiting for a page would.
 */
export async function runClosedLoop(options: ClosedLoopOptions): Promise<LoopRecord[]> {
  const started = options.startedAt ?? performance.now();
  const records: LoopRecord[] = [];
  const elapsed = () => performance.now() - started;
  const call = options.call ?? runScenario;
  await Promise.all(
    options.clients.map(async ({ instance, user, client, scenario: fixed }) => {
      const caller = { ...user, client };
      while (elapsed() < options.durationMs && !options.isStopped?.(instance)) {
        const scenario = fixed ?? (Math.random() < 0.5 ? 'record' : 'list');
        const startedAtMs = elapsed();
        let record: LoopRecord;
        try {
          await call(scenario, caller, instance);
          record = {
            instance,
            scenario,
            priority: scenarioPriority[scenario],
            startedAtMs,
            endedAtMs: elapsed(),
            ok: true,
          };
        } catch (error) {
          record = {
            instance,
            scenario,
            priority: scenarioPriority[scenario],
            startedAtMs,
            endedAtMs: elapsed(),
            ok: false,
            ...describeFailure(error),
          };
        }
        records.push(record);
        options.onRecord?.(record);
      }
    }),
  );
  return records;
}
