import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useId, useState } from 'react';
import type { DashboardSnapshot } from '../../../src/server/dashboard-types.js';
import { ConfirmButton } from '../components/confirm-button.js';
import { formatWait } from '../components/use-now.js';
import { adminRequest, adminToken, useAdminToken } from './admin-api.js';
import { TimeSeriesChart } from './time-series-chart.js';
import { useDashboard } from './use-dashboard.js';

const colors = {
  active: '#0f766e',
  budget: '#334155',
  effective: '#c2410c',
  backends: '#7c3aed',
  queued: '#b45309',
  refused: '#b91c1c',
  rateLimited: '#a16207',
  loop: '#1d4ed8',
};

const breakerStateText: Record<string, string> = {
  CLOSED: 'closed',
  HALF_OPEN: 'half-open (testing)',
  OPEN: 'open (failing fast)',
  ISOLATED: 'held open by an operator',
};

function TokenForm({ problem }: { problem?: string | undefined }) {
  const tokenId = useId();
  const [value, setValue] = useState('');
  const submit = (event: FormEvent) => {
    event.preventDefault();
    adminToken.set(value.trim());
  };
  return (
    <section className="auth-page">
      <h1>Operator dashboard</h1>
      <p>
        The dashboard shows the app's connection budget live and has its emergency controls: it needs the
        app's admin token (<code>ADMIN_TOKEN</code>).
      </p>
      <form onSubmit={submit} className="form">
        <label htmlFor={tokenId}>Admin token</label>
        <input
          id={tokenId}
          type="password"
          autoComplete="off"
          required
          value={value}
          onChange={(event) => setValue(event.target.value)}
        />
        <button type="submit" className="button-primary">
          Open dashboard
        </button>
      </form>
      {problem && (
        <p className="notice notice-error" role="alert">
          {problem}
        </p>
      )}
    </section>
  );
}

/** The emergency controls: pause and resume priorities, close breakers; each asks first. */
function Controls({ token, snapshot }: { token: string; snapshot: DashboardSnapshot }) {
  const queryClient = useQueryClient();
  const [result, setResult] = useState<string | null>(null);
  const act = useMutation({
    mutationFn: ({ path }: { path: string; done: string }) => adminRequest(path, { method: 'POST', token }),
    onSuccess(_data, { done }) {
      setResult(done);
      void queryClient.invalidateQueries({ queryKey: ['admin-dashboard'] });
    },
    onError(error) {
      setResult(`Not done: ${(error as Error).message}`);
    },
  });
  const paused = snapshot.budget.paused;
  return (
    <section aria-labelledby="controls" className="panel panel-wide">
      <h2 id="controls">Emergency controls</h2>
      <p>{paused.length === 0 ? 'Every priority is running.' : `Paused: ${paused.join(', ')}.`}</p>
      <div className="button-row">
        <ConfirmButton
          label="Pause BATCH and LOW"
          question="Pause bulk imports and reports? They wait in the queue (or time out) until you resume; users' own actions go on."
          onConfirm={() =>
            act.mutate({ path: '/api/admin/queue/pause?priorities=BATCH,LOW', done: 'BATCH and LOW paused.' })
          }
        />
        <ConfirmButton
          danger
          label="Pause everything"
          question="Pause every priority? No database work starts until you resume: every user waits, then gets an error."
          onConfirm={() => act.mutate({ path: '/api/admin/queue/pause', done: 'Every priority paused.' })}
        />
        <ConfirmButton
          label="Resume all"
          question="Resume every priority?"
          disabled={paused.length === 0}
          onConfirm={() => act.mutate({ path: '/api/admin/queue/resume', done: 'Every priority resumed.' })}
        />
      </div>
      {result && (
        <p role="status" className="muted">
          {result}
        </p>
      )}
      <h3>Circuit breakers</h3>
      <table>
        <thead>
          <tr>
            <th scope="col">Breaker</th>
            <th scope="col">State</th>
            <th scope="col">Failure rate</th>
            <th scope="col">Failures in a row</th>
            <th scope="col">Calls refused</th>
            <th scope="col">Next probe</th>
            <th scope="col">
              <span className="visually-hidden">Action</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {snapshot.breakers.map((breaker) => (
            <tr key={breaker.name} className={breaker.state === 'CLOSED' ? undefined : 'row-alert'}>
              <th scope="row">{breaker.name}</th>
              <td>{breakerStateText[breaker.state] ?? breaker.state}</td>
              <td>{Math.round(breaker.failureRate * 100)}%</td>
              <td>{breaker.consecutiveFailures}</td>
              <td>{breaker.rejected}</td>
              <td>
                {breaker.nextAttemptAt === null
                  ? ''
                  : `in ${formatWait(breaker.nextAttemptAt - snapshot.at)}`}
              </td>
              <td>
                <ConfirmButton
                  label={`Reset ${breaker.name}`}
                  question={`Close the "${breaker.name}" breaker now? If the database is still failing it opens again.`}
                  disabled={breaker.state === 'CLOSED'}
                  onConfirm={() =>
                    act.mutate({
                      path: `/api/admin/circuit-breaker/reset?name=${encodeURIComponent(breaker.name)}`,
                      done: `Breaker ${breaker.name} closed.`,
                    })
                  }
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Budget({ snapshot }: { snapshot: DashboardSnapshot }) {
  const { budget, history } = snapshot;
  const lastSecond = history.at(-1);
  const times = history.map((sample) => sample.at);
  const hasEffective =
    budget.effectiveLimit !== undefined || history.some((s) => s.effectiveLimit !== undefined);
  const hasBackends = history.some((sample) => sample.backends !== undefined);
  return (
    <section aria-labelledby="budget" className="panel panel-wide">
      <h2 id="budget">Connection budget</h2>
      <p className="headline">
        <strong className="slots-in-use">{budget.active}</strong> of {budget.max} slots in use now,{' '}
        <strong className="slots-peak">{lastSecond?.active ?? budget.active}</strong> at most in the last
        second
        {budget.effectiveLimit !== undefined && (
          <>
            {' '}
            · effective limit <strong className="effective-limit">{budget.effectiveLimit}</strong>
          </>
        )}
      </p>
      <p>
        <strong className="operations-last-second">{lastSecond?.operations ?? 0}</strong> database operations
        done in the last second · <strong>{budget.queued}</strong> waiting now (queue of {budget.maxQueueSize}
        ), {lastSecond?.queued ?? budget.queued} at most in the last second · most slots ever held at once:{' '}
        {budget.peakActive}
      </p>
      <meter min={0} max={budget.max} value={budget.active} aria-label="Slots in use" />
      <p className="muted">
        {budget.reservedForCritical} of the {budget.max} slots{' '}
        {budget.reservedForCritical === 1 ? 'is' : 'are'} kept for CRITICAL work (health checks).
      </p>
      <table>
        <thead>
          <tr>
            <th scope="col">Priority</th>
            <th scope="col">Slots in use</th>
            <th scope="col">Waiting</th>
            <th scope="col">Wait p50</th>
            <th scope="col">Wait p99</th>
          </tr>
        </thead>
        <tbody>
          {snapshot.priorities.map((priority) => (
            <tr key={priority.name}>
              <th scope="row">
                {priority.name}
                {priority.paused && <strong> (paused)</strong>}
              </th>
              <td>{priority.active}</td>
              <td>{priority.queued}</td>
              <td>{priority.waitP50Ms} ms</td>
              <td>{priority.waitP99Ms} ms</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="charts">
        <TimeSeriesChart
          title="Slots in use (most per second) against the budget"
          unit="slots"
          times={times}
          minMax={budget.max}
          series={[
            { label: 'in use', color: colors.active, values: history.map((s) => s.active), fill: true },
            { label: 'budget', color: colors.budget, values: history.map(() => budget.max), dashed: true },
            ...(hasEffective
              ? [
                  {
                    label: 'effective limit',
                    color: colors.effective,
                    values: history.map((s) => s.effectiveLimit ?? null),
                  },
                ]
              : []),
            ...(hasBackends
              ? [
                  {
                    label: 'backends',
                    color: colors.backends,
                    values: history.map((s) => s.backends ?? null),
                  },
                ]
              : []),
          ]}
        />
        <TimeSeriesChart
          title="Waiting for a slot (most per second)"
          unit="calls"
          times={times}
          series={[
            { label: 'waiting', color: colors.queued, values: history.map((s) => s.queued), fill: true },
          ]}
        />
      </div>
    </section>
  );
}

function Refusals({ snapshot }: { snapshot: DashboardSnapshot }) {
  const { history, outcomes, rateLimits } = snapshot;
  return (
    <section aria-labelledby="refusals" className="panel">
      <h2 id="refusals">Operations and refusals</h2>
      <TimeSeriesChart
        title="Database operations done and calls refused, per second"
        unit="per second"
        times={history.map((s) => s.at)}
        series={[
          { label: 'done', color: colors.active, values: history.map((s) => s.operations) },
          { label: 'refused', color: colors.refused, values: history.map((s) => s.refused) },
          { label: 'rate limited', color: colors.rateLimited, values: history.map((s) => s.rateLimited) },
        ]}
      />
      {snapshot.refusals.length === 0 ? (
        <p>No call refused since the app started.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Type</th>
              <th scope="col">Reason</th>
              <th scope="col">Calls</th>
            </tr>
          </thead>
          <tbody>
            {snapshot.refusals.map((refusal) => (
              <tr key={`${refusal.type}/${refusal.reason}`}>
                <td>{refusal.type}</td>
                <td>{refusal.reason}</td>
                <td>{refusal.count}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p className="muted">
        Since start: {outcomes.processed} slots used, {outcomes.shed} waiters shed, {outcomes.timedOut} timed
        out waiting, {outcomes.abandoned} slots reclaimed from overdue work.
      </p>
      <h3>Rate limits</h3>
      <p>
        {rateLimits.tightenedClients > 0
          ? `Limits of ${rateLimits.tightenedClients} client(s) above their fair share at ${Math.round(rateLimits.multiplier * 100)}% (lasting load)`
          : 'Normal limits for every client'}
        ; {rateLimits.limited} of {rateLimits.checks} checks refused.
      </p>
      <table>
        <thead>
          <tr>
            <th scope="col">Policy</th>
            <th scope="col">Checks</th>
            <th scope="col">Refused</th>
          </tr>
        </thead>
        <tbody>
          {rateLimits.byPolicy.map((policy) => (
            <tr key={policy.policy}>
              <th scope="row">{policy.policy}</th>
              <td>{policy.checks}</td>
              <td>{policy.limited}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function DatabaseAndProcess({ snapshot }: { snapshot: DashboardSnapshot }) {
  const { database, eventLoop, history, load, readOnly } = snapshot;
  return (
    <section aria-labelledby="database" className="panel">
      <h2 id="database">Database and process</h2>
      <dl className="facts">
        <dt>Driver</dt>
        <dd>{snapshot.driver}</dd>
        <dt>Health</dt>
        <dd className={`health-${database.health}`}>{database.health}</dd>
        <dt>Probe</dt>
        <dd>
          {database.probe
            ? `${database.probe.message} (${formatWait(snapshot.at - database.probe.checkedAt)} ago)`
            : 'not run yet'}
        </dd>
        <dt>Backends of the app's role</dt>
        <dd>
          {database.backends
            ? `${database.backends.count} (counted ${formatWait(snapshot.at - database.backends.countedAt)} ago)`
            : (database.backendsNote ?? 'not counted yet')}
        </dd>
        <dt>Writes</dt>
        <dd>{readOnly.active ? `refused: read-only (${readOnly.reason})` : 'accepted'}</dd>
        <dt>Event loop</dt>
        <dd>
          {eventLoop.delayMs === null
            ? 'not measured (load shedding is off)'
            : `delay ${eventLoop.delayMs} ms, busy ${Math.round((eventLoop.utilization ?? 0) * 100)}% (as load shedding and the health check read it)`}
        </dd>
        <dt>Load shedding</dt>
        <dd>
          {!load.monitoring
            ? 'off'
            : load.shedding.length === 0
              ? `none (${load.shed} refused since start)`
              : `refusing new ${load.shedding.join(', ')} calls: ${load.cause}`}
        </dd>
        <dt>Up for</dt>
        <dd>{formatWait(snapshot.uptimeMs)}</dd>
      </dl>
      <TimeSeriesChart
        title="Event-loop delay and slot wait p99"
        unit="ms"
        times={history.map((s) => s.at)}
        minMax={10}
        series={[
          { label: 'event-loop delay', color: colors.loop, values: history.map((s) => s.eventLoopDelayMs) },
          { label: 'slot wait p99', color: colors.queued, values: history.map((s) => s.waitP99Ms) },
        ]}
      />
    </section>
  );
}

function LiveDashboard({ token }: { token: string }) {
  const [live, setLive] = useState(true);
  const dashboard = useDashboard(token, live);
  const error = dashboard.error as { status?: number; message?: string } | null;
  if (error && (error.status === 401 || error.status === 404) && !dashboard.data) {
    return <TokenForm problem={error.message} />;
  }
  const snapshot = dashboard.data;
  return (
    <section className="dashboard">
      <div className="dashboard-header">
        <h1>Safeguards dashboard</h1>
        <p className="muted" role="status">
          {snapshot
            ? `${live ? 'Live' : 'Paused'}, updated ${new Date(snapshot.at).toLocaleTimeString()}`
            : 'Connecting…'}
          {error && snapshot ? ` · last update failed: ${error.message}` : ''}
        </p>
        <div className="button-row">
          <button type="button" className="button-secondary" onClick={() => setLive(!live)}>
            {live ? 'Stop updating' : 'Update live'}
          </button>
          <button type="button" className="button-link" onClick={() => adminToken.set(null)}>
            Forget the admin token
          </button>
        </div>
      </div>
      {error && !snapshot && (
        <p className="notice notice-error" role="alert">
          {error.message}
        </p>
      )}
      {snapshot && (
        <div className="dashboard-grid">
          <Budget snapshot={snapshot} />
          <Refusals snapshot={snapshot} />
          <DatabaseAndProcess snapshot={snapshot} />
          <Controls token={token} snapshot={snapshot} />
        </div>
      )}
    </section>
  );
}

/**
 * The operator dashboard: the connection budget by priority, refusals, breakers, rate limits, the
 * database and the event loop, live every second, with the emergency controls. Behind the admin
 * token; nothing on it is shown to users.
 */
export function DashboardPage() {
  const token = useAdminToken();
  if (!token) return <TokenForm />;
  return <LiveDashboard token={token} />;
}
