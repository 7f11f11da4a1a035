import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  expectedAbuse,
  expectedBadInput,
  expectedScenarios,
} from '../../../../tooling/render-reliability-report.mjs';

const renderer = resolve(import.meta.dirname, '../../../../tooling/render-reliability-report.mjs');
// The ids the renderer itself requires, so this test cannot drift from it.
const scenarioIds = expectedScenarios;
const badInputIds = [...expectedBadInput, ...expectedAbuse];
const machine = { cpus: 3, cpuModel: 'Test CPU 9000', node: 'v20.0.0-test', platform: 'testos x64' };

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(os.tmpdir(), 'reliability-report-test-'));
  dirs.push(dir);
  return dir;
}

function run(args: string[]) {
  const result = spawnSync(process.execPath, [renderer, ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Starts a run in `dir` with the renderer itself and returns its id. */
function begin(dir: string): string {
  return execFileSync(process.execPath, [renderer, '--begin', '--results', dir], { encoding: 'utf8' }).trim();
}

function writeResult(dir: string, id: string, runId: string | null, overrides: object = {}): void {
  const common = { id, runId, measuredAt: '2030-01-02T03:04:05.000Z', machine };
  const figures = id.startsWith('abuse')
    ? { kind: 'abuse', title: `title of ${id}`, test: 'attack.test.ts', findings: [`measured ${id}`] }
    : id.startsWith('bad-input')
      ? {
          kind: 'bad-input',
          title: `title of ${id}`,
          test: 'some.test.ts',
          runs: 42,
          findings: [`found ${id}`],
        }
      : {
          kind: 'scenario',
          scenario: `scenario ${id}`,
          load: 'load',
          faults: 'faults',
          requests: 10,
          acknowledgedWrites: 3,
          unacknowledgedWrites: 1,
          lostWrites: 0,
          duplicatedWrites: 0,
          stockDrawn: 4,
          distinctDoses: 4,
          recoveryMs: 1500,
          notes: [`note of ${id}`],
        };
  writeFileSync(join(dir, `${id}.json`), JSON.stringify({ ...common, ...figures, ...overrides }));
}

describe('pnpm reliability:report renders one run of the suite, and only that run', () => {
  it('--begin clears whatever an earlier run left in the results folder', () => {
    const dir = tempDir();
    writeResult(dir, '1-outage', 'an-old-run');
    const runId = begin(dir);
    expect(runId).toMatch(/\S{10,}/);
    expect(existsSync(join(dir, '1-outage.json'))).toBe(false);
    expect(JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')).runId).toBe(runId);
  });

  it("renders the current run's figures with the machine they were measured on, and the bad-input tests it ran", () => {
    const dir = tempDir();
    const runId = begin(dir);
    for (const id of [...scenarioIds, ...badInputIds]) writeResult(dir, id, runId);
    writeResult(dir, '2-killed-backends', runId, { acknowledgedWrites: 77, notes: ['seventy-seven'] });
    const out = join(dir, 'reliability.md');
    const result = run(['--results', dir, '--out', out]);
    expect(result.status, result.stderr).toBe(0);
    const report = readFileSync(out, 'utf8');
    expect(report).toContain(runId);
    expect(report).toContain('3 × Test CPU 9000, testos x64, Node v20.0.0-test');
    expect(report).not.toContain(os.cpus()[0]!.model.trim());
    expect(report).toContain('| scenario 2-killed-backends | load | faults | 10 | 77 |');
    expect(report).toContain('- seventy-seven');
    expect(report).toContain(`**Totals:** ${3 * (scenarioIds.length - 1) + 77} acknowledged writes`);
    for (const id of expectedBadInput)
      expect(report).toContain(`**title of ${id}** (42 generated inputs, \`some.test.ts\`): found ${id}.`);
    expect(report).toContain('## Abuse');
    for (const id of expectedAbuse)
      expect(report).toContain(`### title of ${id}\n\n\`attack.test.ts\`\n\n- measured ${id}`);
  });

  it('refuses a results folder with a file from another run', () => {
    const dir = tempDir();
    const runId = begin(dir);
    for (const id of [...scenarioIds, ...badInputIds]) writeResult(dir, id, runId);
    writeResult(dir, '3-network-stall', 'an-old-run');
    const result = run(['--results', dir, '--out', join(dir, 'reliability.md')]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('3-network-stall.json belongs to run an-old-run');
    expect(existsSync(join(dir, 'reliability.md'))).toBe(false);
  });

  it('refuses a run with a scenario missing, and figures recorded outside any run', () => {
    const dir = tempDir();
    const runId = begin(dir);
    for (const id of [...scenarioIds, ...badInputIds].filter((id) => id !== '5-slow-queries'))
      writeResult(dir, id, runId);
    const missing = run(['--results', dir, '--out', join(dir, 'reliability.md')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('no figures for 5-slow-queries');

    writeResult(dir, '5-slow-queries', null);
    const outside = run(['--results', dir, '--out', join(dir, 'reliability.md')]);
    expect(outside.status).toBe(1);
    expect(outside.stderr).toContain('5-slow-queries.json belongs to run (none)');
  });

  it('refuses a folder no run was started in', () => {
    const result = run(['--results', tempDir()]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('run.json is missing');
  });
});
