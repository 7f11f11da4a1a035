import type { SafeguardError } from '@db-safeguards/core';
import type { Logger } from 'pino';

/** One request whose calls were refused (a rate limit, a full queue, an open breaker). */
export interface RefusedRequest {
  /** The first refused call's procedure. */
  path: string | undefined;
  /** Its tRPC error code, when tRPC answered it. */
  code?: string;
  /** The first refusal, logged in full. */
  first: SafeguardError;
  /** Refused calls in the request. */
  refused: number;
  /** Refused calls by `type:reason`. */
  byKind: Readonly<Record<string, number>>;
}

/** How refusals are counted by kind in the logs: `type:reason` (`RATE_LIMIT:rate-limit`). */
export function refusalKind(error: SafeguardError): string {
  return `${error.type}:${error.reason}`;
}

export interface RefusalLogOptions {
  /**
   * Requests logged in full per second for each kind of first refusal (its `type:reason`, and its
   * rate-limit policy); the rest are counted. Default 5.
   */
  fullLinesPerSecond?: number;
  /** How often the counted ones are written as one line, in ms. Default 10 000. */
  summaryEveryMs?: number;
  /** A monotonic clock, in ms (tests). Default `performance.now`: a wall clock stepped back would stall the windows. */
  now?: () => number;
}

interface KindWindow {
  startedAt: number;
  logged: number;
}

/**
 * Logs refused requests at `warn` without letting a flood of them cost what the refusals save.
 *
 * A refusal is the safeguards working, and under overload there are thousands a second: a full log
 * line each (its error serialised and written) was 15-19 % of a refusal's CPU (a profile of
 * `bench:refusal-cost`), and CPU spent refusing is CPU the admitted calls do not get. So each second
 * the first few requests refused for each reason (`type:reason` of their first refusal, and its
 * rate-limit policy: one client flooding the `api` limit leaves the lines of the `recording` limit
 * alone) are logged in full, with their request ID, and the others are counted: one line every
 * `summaryEveryMs` says how many were left out, by kind. The metrics count every refusal. At `debug`
 * every refused request is logged in full.
 */
export class RefusalLog {
  private readonly fullLinesPerSecond: number;
  private readonly summaryEveryMs: number;
  private readonly now: () => number;
  private readonly windows = new Map<string, KindWindow>();
  private unloggedRequests = 0;
  private unloggedCalls: Record<string, number> = {};
  private summaryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    options: RefusalLogOptions = {},
  ) {
    this.fullLinesPerSecond = options.fullLinesPerSecond ?? 5;
    this.summaryEveryMs = options.summaryEveryMs ?? 10_000;
    this.now = options.now ?? (() => performance.now());
  }

  /** Logs `request` in full on `requestLog` (its request ID bound), or counts it for the next summary. */
  record(request: RefusedRequest, requestLog: Logger): void {
    if (!this.log.isLevelEnabled('warn')) return;
    if (this.log.isLevelEnabled('debug') || this.takeFullLine(request.first)) {
      requestLog.warn(
        {
          path: request.path,
          ...(request.code === undefined ? {} : { code: request.code }),
          error: request.first.toLogObject(),
          refused: request.refused,
          byKind: request.byKind,
        },
        'procedure failed',
      );
      return;
    }
    this.unloggedRequests++;
    for (const [kind, count] of Object.entries(request.byKind))
      this.unloggedCalls[kind] = (this.unloggedCalls[kind] ?? 0) + count;
    // A timer only while something waits to be summarised: an idle process keeps none.
    this.summaryTimer ??= setTimeout(() => this.flush(), this.summaryEveryMs).unref();
  }

  /** Writes the summary of the requests not logged one by one, if any, now (also at shutdown). */
  flush(): void {
    if (this.summaryTimer !== undefined) clearTimeout(this.summaryTimer);
    this.summaryTimer = undefined;
    if (this.unloggedRequests === 0) return;
    this.log.warn(
      { refusedRequests: this.unloggedRequests, byKind: this.unloggedCalls },
      'refused requests not logged one by one',
    );
    this.unloggedRequests = 0;
    this.unloggedCalls = {};
  }

  private takeFullLine(first: SafeguardError): boolean {
    // Policies come from the configuration: the map stays small.
    const kind = `${refusalKind(first)}:${first.rateLimit?.policy ?? ''}`;
    const now = this.now();
    let window = this.windows.get(kind);
    if (window === undefined || now - window.startedAt >= 1000) {
      window = { startedAt: now, logged: 0 };
      // Kinds are a closed list (types, their reasons, the configured policies).
      this.windows.set(kind, window);
    }
    if (window.logged >= this.fullLinesPerSecond) return false;
    window.logged++;
    return true;
  }
}
