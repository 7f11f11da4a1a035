import { parseArgs } from 'node:util';
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
  options: Object.fromEntries(numeric.map(([, flag]) => [flag, { type: 'string' }])),
  allowPositionals: false,
});
const options: SimulationOptions = { ...defaultSimulationOptions };
for (const [key, flag] of numeric) {
  const raw = values[flag];
  if (raw === undefined) continue;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0)
    throw new TypeError(`Expected --${flag} to be a number >= 0, got "${raw}"`);
  options[key] = value;
}
const result = await runSimulation(options);
console.log(formatResult(result));
if (result.maxInUse > options.capacity) process.exitCode = 1;
