import type { SafeguardError } from '@db-safeguards/core';
import { callFactsOf, rememberCallFacts } from './request-state.js';

/** A refusal answer as the edge sends it. */
export interface RenderedRefusal {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Renders the answer to a request whose calls are all refused with `errors` (one per call). The
 * request (its paths, batch or not) is the caller's: the same `key` must always render the same way.
 */
export type RenderRefusal = (errors: readonly SafeguardError[]) => RenderedRefusal;

/** Distinct refusal answers kept; past this many the cache starts over (paths come from the router). */
const maxTemplates = 512;

/** Marks where call `index`'s error ID goes in a template; random, so no answer holds it by chance. */
const nonce = Math.random().toString(36).slice(2, 12);
const marker = (index: number) => `err_${nonce}_${index}_`;

/**
 * Refusals under overload come by the thousand and differ only in their error IDs, so the answer
 * to each kind of refused request (`key`: its paths and form; and each call's type, reason, texts
 * and retry delay) is rendered once, with markers where the error IDs go, and then only the IDs are
 * filled in.
 *
 * Not reused: answers carrying rate-limit figures (their headers count down per caller), and any
 * answer whose rendering does not hold each marker exactly once (a formatter that leaves out or
 * repeats the ID): those are rendered every time. The reuse assumes the router's error formatter
 * answers the same for the same error fields, which the safeguards' own formatter does.
 */
export function reuseRefusalRenderings(): (
  key: string,
  errors: readonly SafeguardError[],
  render: RenderRefusal,
) => RenderedRefusal {
  const templates = new Map<
    string,
    { status: number; headers: Record<string, string>; parts: string[] } | null
  >();
  return (prefix, errors, render) => {
    if (errors.some((error) => error.rateLimit !== undefined)) return render(errors);
    const key = `${prefix}\n${errors.map(describe).join('\n')}`;
    let template = templates.get(key);
    if (template === undefined) {
      template = buildTemplate(render, errors);
      if (templates.size >= maxTemplates) templates.clear();
      templates.set(key, template);
    }
    if (template === null) return render(errors);
    let body = template.parts[0]!;
    for (let i = 0; i < errors.length; i++) body += errors[i]!.errorId + template.parts[i + 1]!;
    return { status: template.status, headers: template.headers, body };
  };
}

/** Every field of an error an answer may show, but its ID (and its time, which no answer shows). */
function describe(error: SafeguardError): string {
  const facts = callFactsOf(error);
  return [
    error.type,
    error.reason,
    error.retryAfterMs,
    error.retryable,
    error.notApplied,
    error.httpStatus,
    error.severity,
    error.userMessage,
    error.suggestedActions.join('\u0001'),
    facts ? `${facts.type}/${facts.idempotent}/${facts.degraded}/${facts.bodyRan}` : '',
  ].join('\t');
}

function buildTemplate(render: RenderRefusal, errors: readonly SafeguardError[]) {
  const marked = errors.map((error, index) => {
    const copy = error.with({ errorId: marker(index) });
    const facts = callFactsOf(error);
    if (facts) rememberCallFacts(copy, facts);
    return copy;
  });
  const rendered = render(marked);
  const parts: string[] = [];
  let rest = rendered.body;
  for (let i = 0; i < errors.length; i++) {
    const pieces = rest.split(marker(i));
    if (pieces.length !== 2) return null;
    parts.push(pieces[0]!);
    rest = pieces[1]!;
  }
  parts.push(rest);
  if (parts.some((part) => part.includes(nonce))) return null;
  return { status: rendered.status, headers: rendered.headers, parts };
}
