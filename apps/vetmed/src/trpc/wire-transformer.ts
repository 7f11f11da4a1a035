import type { CombinedDataTransformer } from '@trpc/server';
import superjson, { type SuperJSONResult } from 'superjson';

/**
 * The app's tRPC transformer: superjson on the wire both ways, with a faster writer for answers.
 *
 * Profiled at the app's comfortable rate, superjson's general walker (paths and identities kept for
 * every value) was about a quarter of a served history read's CPU: 50 rows of plain values and
 * dates. Answers are almost always such trees, so they are written here in one pass to what
 * `superjson.serialize` gives (the same JSON and the same annotations; only the order of the
 * annotations' keys may differ, which no reader depends on), and anything else (a Map, a
 * class instance, a bigint, NaN, an object met twice...) goes to superjson itself. Clients keep
 * `transformer: superjson`; requests are read by superjson as before.
 */
export const wireTransformer: CombinedDataTransformer = {
  input: superjson,
  output: {
    serialize: serializeAnswer,
    deserialize: (value: unknown) =>
      superjson.deserialize(value as Parameters<typeof superjson.deserialize>[0]),
  },
};

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Thrown inside the fast writer when a value needs superjson itself. */
const needsSuperjson = Symbol('needs superjson');

/** `superjson.serialize(value)`, faster for trees of plain objects, arrays, primitives and dates. */
export function serializeAnswer(value: unknown): SuperJSONResult {
  const annotations: Record<string, [string]> = {};
  let rootType: string | undefined;
  let json: Json;
  try {
    if (value instanceof Date || value === undefined) {
      const leaf = writeLeaf(value);
      rootType = leaf.type;
      json = leaf.json;
    } else {
      json = write(value, undefined, annotations, new Set());
    }
  } catch (error) {
    if (error === needsSuperjson) return superjson.serialize(value);
    throw error;
  }
  // Superjson's own types name its annotations more narrowly than these strings.
  if (rootType !== undefined) return { json, meta: { values: [rootType], v: 1 } } as SuperJSONResult;
  for (const _ in annotations) return { json, meta: { values: annotations, v: 1 } } as SuperJSONResult;
  return { json };
}

/** A date or undefined as superjson writes it: the JSON value and its annotation. */
function writeLeaf(value: Date | undefined): { json: Json; type: string } {
  if (value === undefined) return { json: null, type: 'undefined' };
  if (Number.isNaN(value.getTime())) throw needsSuperjson;
  return { json: value.toISOString(), type: 'Date' };
}

/** Superjson's escaping of a key in an annotation path. */
function escapeKey(key: string): string {
  return key.includes('\\') || key.includes('.') ? key.replaceAll('\\', '\\\\').replaceAll('.', '\\.') : key;
}

/** `path` is the value's annotation path; undefined at the root (a key may itself be empty). */
function write(
  value: unknown,
  path: string | undefined,
  annotations: Record<string, [string]>,
  seen: Set<object>,
): Json {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      // NaN, ±Infinity and -0 are annotated by superjson.
      if (!Number.isFinite(value) || Object.is(value, -0)) throw needsSuperjson;
      return value;
    case 'object':
      break;
    default:
      // bigint, symbol, function: superjson's own treatment.
      throw needsSuperjson;
  }
  if (value === null) return null;
  // An object met twice (or a cycle) gets superjson's referential-equality annotations.
  if (seen.has(value)) throw needsSuperjson;
  seen.add(value);
  const prefix = path === undefined ? '' : `${path}.`;
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) throw needsSuperjson;
    const out: Json[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) {
      // A hole is skipped by superjson (null in the JSON, no annotation); an undefined is annotated.
      if (value[i] === undefined && !(i in value)) throw needsSuperjson;
      out[i] = child(value[i], `${prefix}${i}`, annotations, seen);
    }
    return out;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) throw needsSuperjson;
  const out: { [key: string]: Json } = {};
  for (const key of Object.keys(value)) {
    // superjson refuses these (prototype pollution): let it say so.
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') throw needsSuperjson;
    out[key] = child(
      (value as Record<string, unknown>)[key],
      `${prefix}${escapeKey(key)}`,
      annotations,
      seen,
    );
  }
  return out;
}

function child(value: unknown, path: string, annotations: Record<string, [string]>, seen: Set<object>): Json {
  if (value instanceof Date || value === undefined) {
    if (value instanceof Date) {
      if (seen.has(value)) throw needsSuperjson;
      seen.add(value);
    }
    const leaf = writeLeaf(value);
    annotations[path] = [leaf.type];
    return leaf.json;
  }
  return write(value, path, annotations, seen);
}
