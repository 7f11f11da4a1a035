import type { SafeguardError } from '../errors/safeguard-error.js';
import type { Priority } from '../priority.js';
import type { OperationScope } from './operation-scope.js';

/** The work `run` protects. It receives its scope (signal, deadline, attempt). */
export type Operation<T> = (scope: OperationScope) => T | PromiseLike<T>;

/** Where in the composition order a call was refused before it ran. */
export type RefusalStage = 'read-only' | 'load' | 'rate-limit' | 'breaker' | 'queue';

export interface RetryEvent {
  /** The retry about to happen: 1 for the first retry. */
  retry: number;
  delayMs: number;
  error: SafeguardError;
  label: string | undefined;
}

export interface RejectionEvent {
  error: SafeguardError;
  stage: RefusalStage;
  priority: Priority;
  label: string | undefined;
}

export interface OperationEndEvent {
  ok: boolean;
  error: SafeguardError | undefined;
  priority: Priority;
  label: string | undefined;
  /** From `run` being called to settling, waiting and retries included. */
  totalMs: number;
  attempts: number;
}
