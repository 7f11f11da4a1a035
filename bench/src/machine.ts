import os from 'node:os';

/** The machine a benchmark ran on, as its reports name it: "2 × AMD EPYC ..., Node v20.20.2". */
export function machineDescription(): string {
  return `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`;
}
