import { type FormEvent, useId, useState } from 'react';
import type { RouterOutputs } from '../api/app-router.js';
import { ErrorNotice } from '../components/error-notice.js';
import { formatAmount, formatTime } from '../format.js';
import { useDoseOutcome } from './dose-outcomes.js';
import { resendDose, useDoseSendState } from './pending-dose-sender.js';
import { pendingDoses, usePendingDoses } from './pending-doses.js';
import { ReceiptStatus } from './receipt-status.js';

type Regimen = NonNullable<RouterOutputs['animals']['get']>['regimens'][number];

/** The form's names for the fields a refused dose's validation issues point at. */
const doseFieldNames = { doseAmount: 'Amount', doseUnit: 'Unit', notes: 'Notes', recordedAt: 'Time given' };

export interface RecordDoseProps {
  regimen: Regimen;
  animalId: string;
  userId: string;
  /** "Carprofen 75 mg". */
  label: string;
}

/** Where a regimen's pending dose stands: sending, retrying (with the countdown), or waiting for "Try again". */
function PendingDoseStatus({ idempotencyKey, doseText }: { idempotencyKey: string; doseText: string }) {
  const state = useDoseSendState(idempotencyKey);
  if (state?.status === 'error')
    return (
      <div>
        <p className="muted">
          {doseText}: not recorded yet. It is kept here and sent again with the same key.
        </p>
        <ErrorNotice
          error={state.error}
          receivedAt={state.submittedAt}
          onRetry={() => resendDose(idempotencyKey)}
          autoRetry
        />
      </div>
    );
  return (
    <div>
      <p role="status" className="muted">
        Recording {doseText}…
      </p>
      {state?.failureReason ? <ErrorNotice error={state.failureReason} /> : null}
    </div>
  );
}

/**
 * A regimen's "Record dose": a small form (amount, notes) whose submit adds the dose to the pending
 * doses, with its idempotency key, before anything is sent; `PendingDoseSender` sends it. While it
 * is pending the form is not offered again, so a double click, a retry or a reload records one dose.
 */
export function RecordDose({ regimen, animalId, userId, label }: RecordDoseProps) {
  const amountId = useId();
  const notesId = useId();
  const pending = usePendingDoses().find((dose) => dose.regimenId === regimen.id);
  const outcome = useDoseOutcome(regimen.id);
  const [open, setOpen] = useState(false);
  const [amount, setAmount] = useState(() => formatAmount(regimen.doseAmount));
  const [notes, setNotes] = useState('');

  if (pending)
    return (
      <PendingDoseStatus
        idempotencyKey={pending.idempotencyKey}
        doseText={`${formatAmount(pending.doseAmount)} ${pending.doseUnit} given at ${formatTime(new Date(pending.recordedAt))}`}
      />
    );

  const submit = (event: FormEvent) => {
    event.preventDefault();
    pendingDoses.add({
      userId,
      regimenId: regimen.id,
      animalId,
      label,
      doseAmount: amount.trim(),
      doseUnit: regimen.doseUnit,
      notes: notes.trim() === '' ? undefined : notes.trim(),
    });
    setOpen(false);
    setNotes('');
  };

  return (
    <div className="record-dose">
      {outcome?.status === 'recorded' && !open && (
        <p role="status" className="success">
          Recorded {outcome.doseText} at {formatTime(outcome.recordedAt)}.
        </p>
      )}
      {outcome?.status === 'accepted-for-later' && !open && (
        <ReceiptStatus
          receiptId={outcome.receiptId}
          doseText={outcome.doseText}
          recordedAt={outcome.recordedAt}
        />
      )}
      {outcome?.status === 'refused' && !open && (
        <ErrorNotice error={outcome.error} receivedAt={outcome.answeredAt} fieldNames={doseFieldNames} />
      )}
      {open ? (
        <form onSubmit={submit} className="form form-inline" aria-label={`Record a dose of ${label}`}>
          <label htmlFor={amountId}>Amount ({regimen.doseUnit})</label>
          <input
            id={amountId}
            inputMode="decimal"
            required
            pattern="[0-9]*[.,]?[0-9]*"
            value={amount}
            onChange={(event) => setAmount(event.target.value.replace(',', '.'))}
          />
          <label htmlFor={notesId}>Notes</label>
          <input
            id={notesId}
            maxLength={2000}
            value={notes}
            onChange={(event) => setNotes(event.target.value)}
          />
          <button type="submit" className="button-primary">
            Record dose
          </button>
          <button type="button" className="button-secondary" onClick={() => setOpen(false)}>
            Cancel
          </button>
        </form>
      ) : (
        <button type="button" className="button-primary" onClick={() => setOpen(true)}>
          Record dose
        </button>
      )}
    </div>
  );
}
