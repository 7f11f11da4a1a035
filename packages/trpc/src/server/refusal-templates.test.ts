import { type RateLimitInfo, SafeguardError } from '@db-safeguards/core';
import { describe, expect, it } from 'vitest';
import { type RenderRefusal, reuseRefusalRenderings } from './refusal-templates.js';
import { rateLimitHeadersOf } from './response-meta.js';
import { retryAfterHeader } from './retry-after.js';

/** A caller over its limit: `retryAfterMs` and `resetAt` differ from one caller to the next. */
function rateLimited(retryAfterMs: number, resetAt: number): SafeguardError {
  const rateLimit: RateLimitInfo = { policy: 'api', limit: 10, remaining: 0, resetAt, retryAfterMs };
  return new SafeguardError({
    type: 'RATE_LIMIT',
    reason: 'rate-limit',
    retryAfterMs,
    notApplied: true,
    suggestedActions: [`Wait ${Math.ceil(retryAfterMs / 1000)} seconds, then try again.`],
    rateLimit,
  });
}

/** Renders as a router would: each call's ID and wait in the body, the counters and wait in headers. */
function counting(extra: (error: SafeguardError) => Record<string, unknown> = () => ({})) {
  const calls = { count: 0 };
  const render: RenderRefusal = (errors) => {
    calls.count++;
    const limits = errors.flatMap((error) => (error.rateLimit ? [error.rateLimit] : []));
    const longest = Math.max(...errors.map((error) => error.retryAfterMs ?? 0));
    return {
      status: 429,
      headers: {
        'content-type': 'application/json',
        ...rateLimitHeadersOf(limits),
        'Retry-After': retryAfterHeader(longest),
      },
      body: JSON.stringify(
        errors.map((error) => ({
          errorId: error.errorId,
          retryAfterMs: error.retryAfterMs,
          actions: error.suggestedActions,
          ...extra(error),
        })),
      ),
    };
  };
  return { render, calls };
}

describe('reuseRefusalRenderings', () => {
  it('answers rate-limited callers from one rendering, each with its own ID, wait and counters', () => {
    const reuse = reuseRefusalRenderings();
    const { render, calls } = counting();
    // Waits within the same whole seconds (the key): one template, made with three renderings, for five answers.
    const callers = [
      [rateLimited(4_210, 1_000_000), rateLimited(3_050, 1_003_000)],
      [rateLimited(4_999, 2_000_000), rateLimited(3_001, 2_001_500)],
      [rateLimited(4_001, 3_000_000), rateLimited(3_999, 3_000_000)],
      [rateLimited(4_700, 4_000_000), rateLimited(3_500, 4_000_000)],
      [rateLimited(4_100, 5_000_000), rateLimited(3_100, 5_000_000)],
    ];
    const answers = callers.map((errors) => reuse('batch a,b', errors, render));
    expect(calls.count).toBe(3);
    for (const [i, errors] of callers.entries()) {
      // Exactly what rendering these errors gives.
      expect(answers[i]).toEqual(render(errors));
      expect(JSON.parse(answers[i]!.body).map((call: { errorId: string }) => call.errorId)).toEqual(
        errors.map((error) => error.errorId),
      );
    }
    expect(answers.map((answer) => answer.headers['X-RateLimit-Reset'])).toEqual([
      '1000',
      '2000',
      '3000',
      '4000',
      '5000',
    ]);
  });

  it('renders every time when the formatter derives something else from the wait', () => {
    const reuse = reuseRefusalRenderings();
    const { render, calls } = counting((error) => ({ minutes: (error.retryAfterMs ?? 0) / 60_000 }));
    const first = [rateLimited(4_210, 1_000_000)];
    const second = [rateLimited(4_500, 1_000_000)];
    expect(reuse('single a', first, render)).toEqual(render(first));
    const before = calls.count;
    expect(reuse('single a', second, render)).toEqual(render(second));
    // One rendering for the answer, one to compare it with.
    expect(calls.count - before).toBe(2);
  });

  it('renders every time when the answer leaves out an error ID', () => {
    const reuse = reuseRefusalRenderings();
    let rendered = 0;
    const render: RenderRefusal = (errors) => {
      rendered++;
      return { status: 429, headers: {}, body: JSON.stringify({ waits: errors.map((e) => e.retryAfterMs) }) };
    };
    const errors = [rateLimited(4_210, 1_000_000)];
    reuse('single a', errors, render);
    reuse('single a', errors, render);
    // Three to try to make the template, then one per answer.
    expect(rendered).toBe(5);
  });

  it('keeps a template per whole-second wait: a different second is a different answer', () => {
    const reuse = reuseRefusalRenderings();
    const { render } = counting();
    const soon = [rateLimited(1_500, 1_000_000)];
    const later = [rateLimited(9_500, 1_000_000)];
    expect(reuse('single a', soon, render)).toEqual(render(soon));
    expect(reuse('single a', later, render)).toEqual(render(later));
    expect(reuse('single a', soon, render).headers['Retry-After']).toBe('2');
    expect(reuse('single a', later, render).headers['Retry-After']).toBe('10');
  });
});
