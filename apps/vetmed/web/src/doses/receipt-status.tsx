import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect } from 'react';
import { useTRPC } from '../api/trpc.js';
import { ErrorNotice } from '../components/error-notice.js';
import { formatTime } from '../format.js';

/** How often a pending receipt is asked about. */
const receiptPollMs = 3000;

/**
 * A dose the server accepted for later, and what became of it: "Saved: it will be recorded when
 * VetMed can reach its database" while pending (asked again every few seconds), then "Recorded" or
 * "Not recorded" with the reason (the schedule ended meanwhile...). The receipt lives on the server,
 * so it is the same answer in every tab.
 */
export function ReceiptStatus({
  receiptId,
  doseText,
  recordedAt,
}: {
  receiptId: string;
  doseText: string;
  recordedAt: Date;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const receipt = useQuery({
    ...trpc.administrations.receipt.queryOptions({ receiptId }),
    refetchInterval: (query) =>
      query.state.data?.state === 'pending' || !query.state.data ? receiptPollMs : false,
  });
  const state = receipt.data?.state;
  useEffect(() => {
    if (state !== 'applied') return;
    void queryClient.invalidateQueries({ queryKey: trpc.administrations.history.queryKey() });
    void queryClient.invalidateQueries({ queryKey: trpc.inventory.list.queryKey() });
  }, [state, queryClient, trpc]);
  const given = `${doseText} given at ${formatTime(recordedAt)}`;
  if (receipt.data?.state === 'applied')
    return (
      <p role="status" className="success" data-receipt-state="applied">
        Recorded {given} (saved while VetMed could not reach its database).
      </p>
    );
  if (receipt.data?.state === 'rejected')
    return (
      <p role="alert" className="error" data-receipt-state="rejected">
        Not recorded: {given}. {receipt.data.message}
      </p>
    );
  return (
    <div role="status" className="receipt-pending" data-receipt-state="pending">
      <p>
        Saved for later: {given}. It will be recorded as soon as VetMed can reach its database; you don't need
        to record it again.
      </p>
      {receipt.isError && <ErrorNotice error={receipt.error} receivedAt={receipt.errorUpdatedAt} />}
    </div>
  );
}
