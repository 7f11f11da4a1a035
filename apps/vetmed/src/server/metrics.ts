import { priorities, priorityName, type Safeguards, type SafeguardsMetrics } from '@db-safeguards/core';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

const breakerStates = { CLOSED: 0, HALF_OPEN: 1, OPEN: 2, ISOLATED: 3 } as const;

/**
 * Prometheus metrics (prom-client): Node's defaults, HTTP requests, and the safeguards' readouts,
 * read once per scrape. The safeguards keep running totals; they are turned into counter increments
 * here, so rates work as usual in PromQL.
 */
export function createMetrics(safeguards: Safeguards) {
  const registry = new Registry();
  // prom-client's event-loop lag histogram samples with a timer of its own, every 10 ms by default:
  // a wake-up of the process 100 times a second, beside the load sampler's probe, which already
  // reads the lag for shedding (and shows it in health). One sample a tenth of a second is enough for
  // a histogram scraped every few seconds. Node records each whole interval of that timer, so its
  // lag gauges read 0.1 s on an idle loop (the README says so); `db_safeguards_load_event_loop_delay_seconds`
  // below is the lag alone.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  const registers = [registry];

  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by route and status.',
    labelNames: ['method', 'route', 'status'],
    registers,
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route.',
    labelNames: ['route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });

  // One snapshot per scrape, shared by every collector below.
  let snapshot: SafeguardsMetrics | undefined;
  const read = () => {
    snapshot ??= safeguards.metrics();
    queueMicrotask(() => {
      snapshot = undefined;
    });
    return snapshot;
  };
  const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge) => void) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      collect() {
        collect(this);
      },
    });
  const totals = new Map<string, number>();
  const counter = (
    name: string,
    help: string,
    labelNames: string[],
    values: () => Array<[Record<string, string>, number]>,
  ) =>
    new Counter({
      name,
      help,
      labelNames,
      registers,
      collect() {
        for (const [labels, value] of values()) {
          const key = `${name}${JSON.stringify(labels)}`;
          const delta = value - (totals.get(key) ?? 0);
          if (delta > 0) this.inc(labels, delta);
          totals.set(key, value);
        }
      },
    });

  gauge('db_safeguards_connections_active', 'Slots of the connection budget in use.', [], (g) =>
    g.set(read().queue.active),
  );
  gauge('db_safeguards_connections_max', 'The connection budget.', [], (g) =>
    g.set(read().queue.maxConcurrentConnections),
  );
  gauge(
    'db_safeguards_connections_limit',
    'Slots the process may hold now: the budget, lowered while the database says it is full or by a shared budget.',
    [],
    (g) => g.set(read().capacity.effective),
  );
  gauge(
    'db_safeguards_connections_limit_input',
    'Each input of the effective limit (database: the adaptive limit after "too many connections"; shared: the grant; peers: the share among instances seen in the database).',
    ['input'],
    (g) => {
      for (const [input, limit] of Object.entries(read().capacity.inputs)) g.set({ input }, limit);
    },
  );
  gauge(
    'db_safeguards_shared_budget_mode',
    'The shared budget (REDIS_URL): 1 for its current mode (shared, learning, connecting, fallback, closed).',
    ['mode'],
    (g) => {
      const shared = read().capacity.shared;
      if (shared === undefined) return;
      for (const mode of ['connecting', 'shared', 'learning', 'fallback', 'closed'])
        g.set({ mode }, shared.mode === mode ? 1 : 0);
    },
  );
  counter(
    'db_safeguards_capacity_refusals_total',
    'Connection attempts the database refused as full (53300 and kin); capacity, not an outage.',
    [],
    () => [[{}, read().capacity.adaptive?.refusals ?? 0]],
  );
  gauge('db_safeguards_queue_waiting', 'Operations waiting for a slot, by priority.', ['priority'], (g) => {
    const queued = read().queue.queuedByPriority;
    for (const priority of priorities)
      g.set({ priority: priorityName(priority) }, queued[priorityName(priority)]);
  });
  gauge('db_safeguards_queue_wait_seconds', 'Recent wait for a slot (p50, p95, p99).', ['quantile'], (g) => {
    const wait = read().queue.waitMs;
    g.set({ quantile: '0.5' }, wait.p50 / 1000);
    g.set({ quantile: '0.95' }, wait.p95 / 1000);
    g.set({ quantile: '0.99' }, wait.p99 / 1000);
  });
  gauge(
    'db_safeguards_circuit_state',
    'Circuit breaker state: 0 closed, 1 half-open, 2 open, 3 isolated.',
    ['breaker'],
    (g) => {
      for (const [name, stats] of Object.entries(read().breakers))
        g.set({ breaker: name }, breakerStates[stats.state]);
    },
  );
  gauge('db_safeguards_rate_limit_multiplier', 'Adaptive multiplier applied to every rate limit.', [], (g) =>
    g.set(read().rateLimits.multiplier),
  );
  gauge('db_safeguards_read_only', '1 while writes are refused (read-only mode).', [], (g) =>
    g.set(read().readOnly.active ? 1 : 0),
  );
  gauge(
    'db_safeguards_load_shedding',
    '1 while new calls of the priority are refused because this process is overloaded (event loop, memory).',
    ['priority'],
    (g) => {
      const shedding = read().load.shedding;
      for (const priority of priorities) {
        const name = priorityName(priority);
        g.set({ priority: name }, shedding.includes(name) ? 1 : 0);
      }
    },
  );
  gauge(
    'db_safeguards_load_normal_admitted_share',
    'Share of new NORMAL calls admitted (1: all); below 1 while the event loop is busier than its utilisation target.',
    [],
    (g) => g.set(read().load.normalShare),
  );
  gauge(
    'db_safeguards_load_event_loop_delay_seconds',
    'Event-loop delay p99 as load shedding last read it (absent while not monitored).',
    [],
    (g) => {
      const delay = read().load.sample.eventLoopDelayMs;
      if (delay !== undefined) g.set(delay / 1000);
    },
  );
  counter(
    'db_safeguards_load_shed_total',
    'New calls refused because this process was overloaded, by priority.',
    ['priority'],
    () =>
      Object.entries(read().load.shedByPriority).map(
        ([priority, count]): [Record<string, string>, number] => [{ priority }, count],
      ),
  );
  counter(
    'db_safeguards_queue_operations_total',
    'Slots released, by outcome, and waiters refused.',
    ['outcome'],
    () => {
      const q = read().queue;
      return [
        [{ outcome: 'processed' }, q.processed],
        [{ outcome: 'failed' }, q.failed],
        [{ outcome: 'shed' }, q.shed],
        [{ outcome: 'timed_out' }, q.timedOut],
        [{ outcome: 'aborted' }, q.aborted],
        [{ outcome: 'abandoned' }, q.abandoned],
      ];
    },
  );
  counter(
    'db_safeguards_rate_limited_total',
    'Requests refused by a rate limit, by policy.',
    ['policy'],
    () => Object.entries(read().rateLimits.byPolicy).map(([policy, counts]) => [{ policy }, counts.limited]),
  );
  counter('db_safeguards_retries_total', 'Database operations retried.', [], () => [
    [{}, read().retries.attempted],
  ]);
  counter('db_safeguards_errors_total', 'Classified errors, by type.', ['type'], () =>
    Object.entries(read().errors.byType).map(([type, count]) => [{ type }, count ?? 0]),
  );

  return {
    registry,
    /** Records one finished HTTP request. */
    observeRequest(method: string, route: string, status: number, seconds: number): void {
      requests.inc({ method, route, status: String(status) });
      duration.observe({ route }, seconds);
    },
  };
}

export type AppMetrics = ReturnType<typeof createMetrics>;
