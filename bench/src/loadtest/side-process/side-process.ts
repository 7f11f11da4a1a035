/**
 * Runs part of a load in a process of its own. The main load generator's event loop is busy sending
 * and reading thousands of calls a second; a latency measured there includes the generator's own
 * delays. Urgent calls (a HIGH recording, a load balancer's health check) come from other machines
 * in real life, so they are sent and timed from a side process whose loop does nothing else.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FromSide, SideResult, SideTask, ToSide } from './side-task.js';

const entry = fileURLToPath(new URL('./side-process-main.ts', import.meta.url));
/** The bench package, where `tsx` resolves from. */
const benchRoot = fileURLToPath(new URL('../../../', import.meta.url));

export interface SideProcess<T extends SideTask> {
  /** Starts the measured run (after the task's preparation). */
  go(): void;
  /** Ends a task that runs until told (health checks) and waits for its result. */
  stop(): Promise<SideResult<T>>;
  /** The result, once the task has ended (an open loop ends by itself). */
  readonly result: Promise<SideResult<T>>;
  /** Kills the process if it is still running (for `finally` blocks). */
  kill(): void;
}

/** Starts `task` in a new Node process and resolves once it is prepared and waiting for `go()`. */
export async function startSideProcess<T extends SideTask>(task: T): Promise<SideProcess<T>> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: benchRoot,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const post = (message: ToSide) => {
    if (child.connected) child.send(message);
  };
  let ready!: () => void;
  let failed!: (error: Error) => void;
  const readiness = new Promise<void>((resolve, reject) => {
    ready = resolve;
    failed = reject;
  });
  const result = new Promise<SideResult<T>>((resolve, reject) => {
    child.on('message', (message: FromSide) => {
      if (message.type === 'ready') ready();
      else if (message.type === 'result') resolve(message.result as SideResult<T>);
      else {
        const error = new Error(`side process failed: ${message.message}`);
        failed(error);
        reject(error);
      }
    });
    child.once('exit', (code, signal) => {
      const error = new Error(`side process exited (${signal ?? code}) before its result`);
      failed(error);
      reject(error);
    });
  });
  // A rejection nobody awaits yet (the caller may only ever await `stop()`) must not end the run.
  result.catch(() => undefined);
  post({ type: 'start', task });
  await readiness;
  return {
    go: () => post({ type: 'go' }),
    stop: () => {
      post({ type: 'stop' });
      return result;
    },
    result,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
