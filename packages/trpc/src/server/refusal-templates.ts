import type { RateLimitInfo, SafeguardError } from '@db-safeguards/core';
import { callFactsOf, rememberCallFacts } from './request-state.js';
import { rateLimitHeadersOf } from './response-meta.js';

/** A refusal answer as the edge sends it. */
export interface RenderedRefusal {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Renders the answer to a request whose calls are all refused with `errors` (one per call), charged
 * against the rate limits the errors carry. The request (its paths, batch or not) is the caller's:
 * the same `key` must always render the same way.
 */
export type RenderRefusal = (errors: readonly SafeguardError[]) => RenderedRefusal;

/** Distinct refusal answers kept; past this many the least recently used one goes. */
const maxTemplates = 1024;

/** Random, so no answer holds a marker by chance. */
const nonce = Math.random().toString(36).slice(2, 12);
/** Marks where call `index`'s error ID goes in a template. */
const idMarker = (index: number) => `err_${nonce}_${index}_`;
/**
 * Stand-in waits for call `index`'s `retryAfterMs`, in two sets: integers far beyond any real wait
 * (about 250 years), with random leading digits and the set and index in the last six.
 */
const waitPrefix = String(8_000_000 + Math.floor(Math.random() * 1_000_000));
const waitMarker = (set: 0 | 1, index: number) =>
  Number(`${waitPrefix}${String(set * 500_000 + index).padStart(6, '0')}`);
const markerPattern = new RegExp(`err_${nonce}_(\\d+)_|${waitPrefix}(\\d{6})`, 'g');

/** Where a template takes a value of call `index`: its error ID, or its wait. */
interface Slot {
  index: number;
  field: 'errorId' | 'retryAfterMs';
}

interface Template {
  status: number;
  /** The answer's headers, but for `X-RateLimit-*`, which count down per caller. */
  headers: Record<string, string>;
  /** The body around the slots: `parts[0]`, slot 0, `parts[1]`, ... */
  parts: string[];
  slots: Slot[];
}

/**
 * Refusals under overload or from a client flooding its rate limit come by the thousand and differ
 * only in their error IDs, their waits and their callers' rate-limit counters, so the answer to each
 * kind of refused request (`key`: its paths and form; and each call's type, reason, texts and wait
 * in whole seconds) is rendered once with markers where the error IDs and waits go; then only those
 * are filled in, and the `X-RateLimit-*` headers are computed from the caller's own figures.
 *
 * A template is checked when it is made: rendered with two different sets of stand-in waits, the
 * answers must differ only where the waits are, and filled with the real values it must give
 * exactly the answer rendered for them. An answer that fails the check (a formatter that leaves out
 * or repeats an ID, or derives something from the wait) is rendered every time. The reuse assumes
 * that the router's error formatter answers the same for the same error fields, which the
 * safeguards' own formatter does.
 */
export function reuseRefusalRenderings(): (
  key: string,
  errors: readonly SafeguardError[],
  render: RenderRefusal,
) => RenderedRefusal {
  const templates = new Map<string, Template | null>();
  return (prefix, errors, render) => {
    const key = `${prefix}\n${errors.map(describe).join('\n')}`;
    let template = templates.get(key);
    if (template === undefined) {
      template = buildTemplate(render, errors);
      if (templates.size >= maxTemplates) templates.delete(templates.keys().next().value!);
    } else {
      // Most recently used last, so the oldest entry is the least recently used.
      templates.delete(key);
    }
    templates.set(key, template);
    if (template === null) return render(errors);
    return {
      status: template.status,
      headers: { ...template.headers, ...rateLimitHeadersOf(limitsOf(errors)) },
      body: fill(template, valuesOf(errors)),
    };
  };
}

function limitsOf(errors: readonly SafeguardError[]): RateLimitInfo[] {
  return errors.flatMap((error) => (error.rateLimit ? [error.rateLimit] : []));
}

/**
 * Every field of an error an answer may show but its ID, its exact wait and its rate-limit figures
 * (filled in per answer), and its time (which no answer shows). The wait counts in whole seconds,
 * as `Retry-After` and the suggested actions give it.
 */
function describe(error: SafeguardError): string {
  const facts = callFactsOf(error);
  return [
    error.type,
    error.reason,
    error.retryAfterMs === undefined ? '-' : Math.max(1, Math.ceil(error.retryAfterMs / 1000)),
    error.rateLimit === undefined ? '-' : error.rateLimit.policy,
    error.retryable,
    error.notApplied,
    error.httpStatus,
    error.severity,
    error.userMessage,
    error.suggestedActions.join('\u0001'),
    facts ? `${facts.type}/${facts.idempotent}/${facts.degraded}/${facts.bodyRan}` : '',
  ].join('\t');
}

/** `errors` with marked IDs and, with `waits`, stand-in waits; their call facts kept. */
function marked(errors: readonly SafeguardError[], waits?: 0 | 1): SafeguardError[] {
  return errors.map((error, index) => {
    const copy = error.with({
      errorId: idMarker(index),
      ...(waits === undefined || error.retryAfterMs === undefined
        ? {}
        : { retryAfterMs: waitMarker(waits, index) }),
    });
    const facts = callFactsOf(error);
    if (facts) rememberCallFacts(copy, facts);
    return copy;
  });
}

/** The body split at the markers of wait set `set`; undefined when a marker is missing, repeated or foreign. */
function split(body: string, count: number, set: 0 | 1): Pick<Template, 'parts' | 'slots'> | undefined {
  const parts: string[] = [];
  const slots: Slot[] = [];
  const seen = new Set<string>();
  let from = 0;
  for (const match of body.matchAll(markerPattern)) {
    let slot: Slot;
    if (match[1] !== undefined) {
      slot = { index: Number(match[1]), field: 'errorId' };
    } else {
      const value = Number(match[2]);
      if (Math.floor(value / 500_000) !== set) return undefined;
      slot = { index: value % 500_000, field: 'retryAfterMs' };
    }
    const name = `${slot.field} ${slot.index}`;
    if (slot.index >= count || seen.has(name)) return undefined;
    seen.add(name);
    parts.push(body.slice(from, match.index));
    slots.push(slot);
    from = match.index + match[0].length;
  }
  parts.push(body.slice(from));
  for (let index = 0; index < count; index++) if (!seen.has(`errorId ${index}`)) return undefined;
  return { parts, slots };
}

/** The template's body with each slot's value: `slotValue` gives it. */
function fill(template: Pick<Template, 'parts' | 'slots'>, slotValue: (slot: Slot) => string): string {
  let body = template.parts[0]!;
  for (let i = 0; i < template.slots.length; i++)
    body += slotValue(template.slots[i]!) + template.parts[i + 1]!;
  return body;
}

/** The value of a call's slot: its error ID or its wait, as JSON writes it. */
const valuesOf =
  (errors: readonly SafeguardError[]) =>
  ({ index, field }: Slot): string =>
    String(errors[index]![field]);

function buildTemplate(render: RenderRefusal, errors: readonly SafeguardError[]): Template | null {
  const real = render(marked(errors));
  const a = split(render(marked(errors, 0)).body, errors.length, 0);
  const b = split(render(marked(errors, 1)).body, errors.length, 1);
  if (a === undefined || b === undefined) return null;
  const sameShape =
    a.parts.length === b.parts.length &&
    a.parts.every((part, i) => part === b.parts[i]) &&
    a.slots.every((slot, i) => slot.index === b.slots[i]!.index && slot.field === b.slots[i]!.field);
  if (!sameShape) return null;
  // Filled with the real waits (and the markers as IDs), the template must be the real rendering.
  const realValue = (slot: Slot) =>
    slot.field === 'errorId' ? idMarker(slot.index) : String(errors[slot.index]!.retryAfterMs);
  if (fill(a, realValue) !== real.body) return null;
  if (a.parts.some((part) => part.includes(nonce) || part.includes(waitPrefix))) return null;
  // The rate-limit headers are the caller's: rendered from the same figures, they must match.
  const counters = rateLimitHeadersOf(limitsOf(errors));
  const headers = { ...real.headers };
  for (const [name, value] of Object.entries(counters)) {
    if (headers[name] !== value) return null;
    delete headers[name];
  }
  return { status: real.status, headers, ...a };
}
