import { type ReactNode, useId, useRef } from 'react';

export interface ConfirmButtonProps {
  /** The button's label, also the confirming button's. */
  label: string;
  /** What will happen, asked before it does. */
  question: ReactNode;
  onConfirm: () => void;
  disabled?: boolean;
  danger?: boolean;
}

/**
 * A button whose action is confirmed first, in a modal dialog (the native `<dialog>`: focus is kept
 * inside it and Escape cancels).
 */
export function ConfirmButton({ label, question, onConfirm, disabled, danger }: ConfirmButtonProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  return (
    <>
      <button
        type="button"
        className={danger ? 'button-danger' : 'button-secondary'}
        disabled={disabled}
        onClick={() => dialog.current?.showModal()}
      >
        {label}
      </button>
      <dialog ref={dialog} aria-labelledby={titleId} className="confirm-dialog">
        <p id={titleId}>{question}</p>
        <form method="dialog" className="dialog-buttons">
          {/* Cancel first: the dialog focuses it, so Enter on an opened dialog changes nothing. */}
          <button type="submit" className="button-secondary">
            Cancel
          </button>
          <button
            type="submit"
            className={danger ? 'button-danger' : 'button-primary'}
            onClick={() => onConfirm()}
          >
            {label}
          </button>
        </form>
      </dialog>
    </>
  );
}
