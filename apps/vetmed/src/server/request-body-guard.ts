import type { IncomingMessage } from 'node:http';
import { SafeguardError } from '@db-safeguards/core';

/**
 * Deepest nesting of arrays and objects a request's JSON may have. The app's deepest input (a batch
 * of imports through superjson) is under 10 levels; a body nested 520,000 levels deep used to hold
 * the event loop for 1.5 s in parsing and validation.
 */
export const maxJsonDepth = 64;

/** Body limit of every procedure but the imports: forms and single records are a few KiB. */
export const defaultCallBodyLimitBytes = 64 * 1024;

/**
 * How deep `text`'s JSON nests, counting only brackets outside strings; stops counting as soon as
 * `limit` is passed. Linear in the length and allocation-free, so it costs far less than the parse
 * it protects.
 */
export function exceedsJsonDepth(text: string, limit = maxJsonDepth): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === 92 /* \ */) i++;
      else if (code === 34 /* " */) inString = false;
    } else if (code === 34) inString = true;
    else if (code === 91 /* [ */ || code === 123 /* { */) {
      if (++depth > limit) return true;
    } else if (code === 93 /* ] */ || code === 125 /* } */) depth--;
  }
  return false;
}

/** Limits of one request's body: per procedure (imports may be large, nothing else need be). */
export interface BodyLimits {
  /** The limit of the import procedures (`BODY_LIMIT_BYTES`). */
  largeBytes: number;
  /** The limit of every other procedure. */
  defaultBytes: number;
  /** Procedure paths that may have large bodies, by prefix. */
  largePrefixes: readonly string[];
}

/** The body limit of a request that calls `paths`: the largest of its calls' limits. */
export function bodyLimitFor(paths: readonly string[], limits: BodyLimits): number {
  const large = paths.some((path) => limits.largePrefixes.some((prefix) => path.startsWith(prefix)));
  return large ? limits.largeBytes : Math.min(limits.defaultBytes, limits.largeBytes);
}

function tooLarge(limit: number): SafeguardError<'VALIDATION'> {
  return new SafeguardError({
    type: 'VALIDATION',
    reason: 'payload-too-large',
    httpStatus: 413,
    userMessage: 'That request is too large.',
    suggestedActions: ['Send less data at once, e.g. split a large import into parts.'],
    internalMessage: `request body over its limit of ${limit} bytes`,
  });
}

function tooDeep(): SafeguardError<'VALIDATION'> {
  return new SafeguardError({
    type: 'VALIDATION',
    reason: 'bad-request',
    userMessage: 'That request could not be read.',
    internalMessage: `request JSON nested deeper than ${maxJsonDepth} levels`,
  });
}

/**
 * Reads the body of a tRPC request up to `limit` bytes and checks its nesting depth before anything
 * parses it. On success the text is put on `req.body`, where tRPC's Node adapter takes it from; on
 * failure the typed error is returned (the caller answers every call with it) and the rest of the
 * body is left unread: the connection is closed after the answer. GET input (in the URL) is checked
 * for depth too.
 */
export async function guardRequestBody(
  req: IncomingMessage & { body?: unknown },
  url: URL,
  limit: number,
): Promise<SafeguardError | undefined> {
  const input = url.searchParams.get('input');
  if (input !== null && exceedsJsonDepth(input)) return tooDeep();
  if (req.method !== 'POST') return undefined;
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return refuse(req, tooLarge(limit));
  const chunks: Buffer[] = [];
  let size = 0;
  const refused = await new Promise<SafeguardError | undefined>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        resolve(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(undefined);
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
  if (refused) return refuse(req, refused);
  const text = Buffer.concat(chunks).toString('utf8');
  if (exceedsJsonDepth(text)) return refuse(req, tooDeep());
  req.body = text;
  return undefined;
}

/** Gives tRPC an empty input to (never) parse, and stops reading what is left of the body. */
function refuse(req: IncomingMessage & { body?: unknown }, error: SafeguardError): SafeguardError {
  req.body = '{}';
  req.pause();
  return error;
}
