import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, relative, sep } from 'node:path';
import { pageSecurityHeaders } from './page-security-headers.js';

/** Content types of what a Vite build emits; anything else is served as bytes. */
const contentTypes: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

/** The compressed copies the build writes next to a file (`web/precompress-plugin.ts`), by encoding. */
const encodedSuffixes = { '.br': 'brotli', '.gz': 'gzip' } as const;

interface Asset {
  body: Buffer;
  gzip: Buffer | undefined;
  brotli: Buffer | undefined;
  contentType: string;
  etag: string;
  cacheControl: string;
}

/** Options of {@link loadWebAssets}. */
export interface WebAssetsOptions {
  /**
   * Path prefixes the page fallback never answers: API routes keep their typed JSON 404s, and a
   * mistyped API path never comes back as a web page with status 200.
   */
  apiPrefixes: readonly string[];
}

/** The built web client, held in memory, and the handler that serves it. */
export interface WebAssets {
  /** Files served, by URL path (`/index.html`, `/assets/index-3f2a1c.js`, ...). */
  readonly paths: readonly string[];
  /**
   * Answers GET and HEAD for a built file, or the page (`index.html`) for a client route (a path
   * without a file extension outside the API prefixes). Returns false when it is neither: the caller
   * answers 404.
   */
  serve(req: IncomingMessage, res: ServerResponse, pathname: string): boolean;
}

/** Hashed file names (Vite's `assets/` folder) never change content: a year, immutable. */
const immutable = 'public, max-age=31536000, immutable';
/** The page and unhashed files: always revalidated (cheaply, by ETag), so a new build shows at once. */
const revalidate = 'no-cache';

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

/**
 * Reads the built web client (`vite build`'s output) into memory, with the brotli and gzip copies the
 * build made of its text files (`name.br`, `name.gz`), so serving a file is a map lookup: no file
 * system access, no path from the URL ever reaches the disk, no compression per request or at start.
 * A file without copies is served as it is. Returns undefined when `dir` has no `index.html` (the
 * client was not built).
 */
export async function loadWebAssets(dir: string, options: WebAssetsOptions): Promise<WebAssets | undefined> {
  let files: string[];
  try {
    files = await listFiles(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const assets = new Map<string, Asset>();
  const copies: Array<{ of: string; encoding: 'brotli' | 'gzip'; body: Buffer }> = [];
  await Promise.all(
    files.map(async (file) => {
      const urlPath = `/${relative(dir, file).split(sep).join('/')}`;
      const body = await readFile(file);
      const suffix = extname(file).toLowerCase();
      if (Object.hasOwn(encodedSuffixes, suffix)) {
        const encoding = encodedSuffixes[suffix as keyof typeof encodedSuffixes];
        copies.push({ of: urlPath.slice(0, -suffix.length), encoding, body });
        return;
      }
      assets.set(urlPath, {
        body,
        gzip: undefined,
        brotli: undefined,
        contentType: contentTypes[suffix] ?? 'application/octet-stream',
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
        cacheControl: urlPath.startsWith('/assets/') ? immutable : revalidate,
      });
    }),
  );
  for (const copy of copies) {
    const asset = assets.get(copy.of);
    if (asset) asset[copy.encoding] = copy.body;
  }
  const page = assets.get('/index.html');
  if (!page) return undefined;

  const isApiPath = (pathname: string) =>
    options.apiPrefixes.some((prefix) => pathname === prefix || pathname.startsWith(`${prefix}/`));

  return {
    paths: [...assets.keys()].sort(),
    serve(req, res, pathname) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      let asset = assets.get(pathname);
      // Client routes (`/animals/…`, `/dashboard`) get the page; paths that look like files do not,
      // so a missing script is a 404, not HTML the browser would refuse as a script.
      if (!asset && !isApiPath(pathname) && extname(pathname) === '' && !pathname.startsWith('/assets/'))
        asset = page;
      if (!asset) return false;
      send(req, res, asset);
      return true;
    },
  };
}

/** The encodings a request's `Accept-Encoding` allows (a `q=0` entry forbids one). */
function acceptedEncodings(req: IncomingMessage): Set<string> {
  const accepted = new Set<string>();
  for (const part of String(req.headers['accept-encoding'] ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const quality = params.map((param) => /^\s*q=([\d.]+)\s*$/.exec(param)?.[1]).find(Boolean);
    if (name && (quality === undefined || Number(quality) > 0)) accepted.add(name);
  }
  return accepted;
}

/** The encoding to send: brotli, then gzip, when the client accepts it and a copy exists. */
function pickEncoding(req: IncomingMessage, asset: Asset): 'br' | 'gzip' | undefined {
  if (!asset.brotli && !asset.gzip) return undefined;
  const accepted = acceptedEncodings(req);
  if (asset.brotli && accepted.has('br')) return 'br';
  if (asset.gzip && accepted.has('gzip')) return 'gzip';
  return undefined;
}

function send(req: IncomingMessage, res: ServerResponse, asset: Asset): void {
  const headers: Record<string, string> = {
    'content-type': asset.contentType,
    'cache-control': asset.cacheControl,
    etag: asset.etag,
    vary: 'accept-encoding',
    ...pageSecurityHeaders,
  };
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifNoneMatch?.split(',').some((tag) => tag.trim() === asset.etag)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const encoding = pickEncoding(req, asset);
  const body = encoding === 'br' ? asset.brotli! : encoding === 'gzip' ? asset.gzip! : asset.body;
  if (encoding) headers['content-encoding'] = encoding;
  headers['content-length'] = String(body.length);
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}
