import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { outputPath } from '../output-path.js';
import { formatResult } from './format-result.js';
import { defaultSimulationOptions, runSimulation, type SimulationOptions } from './run-simulation.js';

const numeric: Array<[keyof SimulationOptions, string]> = [
  ['instances', 'instances'],
  ['capacity', 'capacity'],
  ['seconds', 'seconds'],
  ['load', 'load'],
  ['operationMs', 'operation-ms'],
  ['latencyMs', 'latency-ms'],
  ['leaseMs', 'lease-ms'],
  ['refreshMs', 'refresh-ms'],
  ['lateJoiners', 'late-joiners'],
  ['freezers', 'freezers'],
  ['crashes', 'crashes'],
  ['reclaim', 'reclaim'],
  ['seed', 'seed'],
];

const { values } = parseArgs({
  options: {
    ...Object.fromEntries(numeric.map(([, flag]) => [flag, { type: 'string' as const }])),
    out: { type: 'string' },
  },
  allowPositionals: false,
});
const options: SimulationOptions = { ...defaultSimulationOptions };
for (const [key, flag] of numeric) {
  const raw = (values as Record<string, string | undefined>)[flag];
  if (raw === undefined) continue;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0)
    throw new TypeError(`Expected --${flag} to be a number >= 0, got "${raw}"`);
  options[key] = value;
}
const result = await runSimulation(options);
const text = formatResult(result);
console.log(text);
// --out docs/shared-budget-sim.json: the output and the command, for docs/benchmarks.md's section.
if (values.out !== undefined) {
  const flags = process.argv.slice(2).filter((arg) => arg !== '--');
  writeFileSync(
    outputPath(values.out as string),
    `${JSON.stringify({ command: `pnpm sim:shared-budget -- ${flags.join(' ')}`, generatedAt: new Date().toISOString(), options, output: text }, null, 2)}\n`,
  );
}
if (result.maxInUse > options.capacity) process.exitCode = 1;
