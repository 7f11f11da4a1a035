import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderSimulationSection } from './render-simulation.js';

describe('renderSimulationSection', () => {
  it("shows the simulator's output verbatim with the command that made it, and nothing without a file", () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-section-'));
    const path = join(dir, 'shared-budget-sim.json');
    expect(renderSimulationSection(path)).toBeUndefined();
    writeFileSync(
      path,
      JSON.stringify({
        command: 'pnpm sim:shared-budget -- --crashes 20 --out docs/shared-budget-sim.json',
        generatedAt: '2026-12-07T07:13:00.000Z',
        output: 'global count of operations running: max 91 of 100 (never above the capacity)\n',
      }),
    );
    const section = renderSimulationSection(path)!;
    expect(section).toContain('`pnpm sim:shared-budget -- --crashes 20` on 2026-12-07 (07:13 UTC)');
    expect(section).toContain(
      '```text\nglobal count of operations running: max 91 of 100 (never above the capacity)\n```',
    );
  });
});
