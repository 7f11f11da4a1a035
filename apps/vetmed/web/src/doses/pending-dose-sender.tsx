import { type MutationState, useMutation, useMutationState, useQueryClient } from '@tanstack/react-query';
import { useEffect } from 'react';
import { toFriendlyError } from '../api/friendly-error.js';
import { doseRetryPolicy, retryOptions } from '../api/retry-policy.js';
import { useTRPC } from '../api/trpc.js';
import { formatAmount, formatTime } from '../format.js';
import { doseOutcomes } from './dose-outcomes.js';
import { type PendingDose, pendingDoses, usePendingDoses } from './pending-doses.js';

const mutationKeyOf = (idempotencyKey: string) => ['recordDose', idempotencyKey] as const;

/** Sends started in this page load, by key: a dose is sent by one mutation, however often it renders. */
const started = new Set<string>();
/** How to send a pending dose again (after its automatic retries gave up), by key. */
const resenders = new Map<string, () => void>();

/** Sends the pending dose `idempotencyKey` again now, with the same key and fields. */
export function resendDose(idempotencyKey: string): void {
  resenders.get(idempotencyKey)?.();
}

/** The state of the send of a pending dose: pending (maybe retrying after `failureReason`), or failed. */
export function useDoseSendState(idempotencyKey: string | undefined): MutationState | undefined {
  const states = useMutationState({
    filters: { mutationKey: mutationKeyOf(idempotencyKey ?? ''), exact: true },
    select: (mutation) => mutation.state as MutationState,
  });
  return idempotencyKey === undefined ? undefined : states.at(-1);
}

function SendPendingDose({ dose }: { dose: PendingDose }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const { mutate } = useMutation({
    ...trpc.administrations.record.mutationOptions(),
    mutationKey: mutationKeyOf(dose.idempotencyKey),
    // Safe to retry: the server records a key once (the procedure is marked idempotent).
    ...retryOptions(doseRetryPolicy),
    onSuccess(result) {
      pendingDoses.remove(dose.idempotencyKey);
      if (result.status === 'accepted-for-later') {
        // The server holds it now (durably, in its queue): nothing more to send from here.
        doseOutcomes.set(dose.regimenId, {
          status: 'accepted-for-later',
          receiptId: result.receiptId,
          recordedAt: result.recordedAt,
          doseText: `${formatAmount(dose.doseAmount)} ${dose.doseUnit}`,
          answeredAt: Date.now(),
        });
        // The history is asked again: answered from the server's last good copy, it says from when.
        void queryClient.invalidateQueries({ queryKey: trpc.administrations.history.queryKey() });
        return;
      }
      const { administration } = result;
      doseOutcomes.set(dose.regimenId, {
        status: 'recorded',
        recordedAt: administration.recordedAt,
        doseText: `${formatAmount(administration.doseAmount)} ${administration.doseUnit}`,
        answeredAt: Date.now(),
      });
      void queryClient.invalidateQueries({ queryKey: trpc.administrations.history.queryKey() });
      void queryClient.invalidateQueries({ queryKey: trpc.inventory.list.queryKey() });
    },
    onError(error) {
      // Refused for good (the regimen ended, a bad amount): the key is spent. Anything else may not
      // have reached the server, or its answer was lost: the dose stays pending, with its key.
      if (toFriendlyError(error).retryable) return;
      pendingDoses.remove(dose.idempotencyKey);
      doseOutcomes.set(dose.regimenId, { status: 'refused', error, answeredAt: Date.now() });
    },
  });

  useEffect(() => {
    const send = () =>
      mutate({
        regimenId: dose.regimenId,
        idempotencyKey: dose.idempotencyKey,
        doseAmount: dose.doseAmount,
        doseUnit: dose.doseUnit,
        notes: dose.notes,
        recordedAt: new Date(dose.recordedAt),
      });
    resenders.set(dose.idempotencyKey, send);
    if (!started.has(dose.idempotencyKey)) {
      started.add(dose.idempotencyKey);
      send();
    }
    return () => {
      resenders.delete(dose.idempotencyKey);
    };
  }, [dose, mutate]);
  return null;
}

/**
 * Sends every pending dose: the ones just recorded, and the ones a reload interrupted (found in
 * localStorage). Mounted once, while signed in, so sends go on whatever page the person moves to.
 */
export function PendingDoseSender({ userId }: { userId: string }) {
  const doses = usePendingDoses().filter((dose) => dose.userId === userId);
  return (
    <>
      {doses.map((dose) => (
        <SendPendingDose key={dose.idempotencyKey} dose={dose} />
      ))}
    </>
  );
}

/** For the history while a dose is pending: "Carprofen 75 mg, 1 tablet at 14:05". */
export function describePendingDose(dose: PendingDose): string {
  return `${dose.label}, ${formatAmount(dose.doseAmount)} ${dose.doseUnit} at ${formatTime(new Date(dose.recordedAt))}`;
}
