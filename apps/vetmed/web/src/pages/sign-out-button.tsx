import { useMutation } from '@tanstack/react-query';
import { sessionStore } from '../api/session.js';
import { useTRPC } from '../api/trpc.js';
import { navigate } from '../routing/router.js';

/** Signs out here at once; the server revokes the token when it can (a failure changes nothing here). */
export function SignOutButton({ onSignedOut }: { onSignedOut: () => void }) {
  const trpc = useTRPC();
  const signOut = useMutation(trpc.auth.signOut.mutationOptions());
  return (
    <button
      type="button"
      className="button-link"
      onClick={() => {
        signOut.mutate(undefined, {
          onSettled() {
            sessionStore.set(null);
            onSignedOut();
            navigate('/sign-in', { replace: true });
          },
        });
      }}
      disabled={signOut.isPending}
    >
      Sign out
    </button>
  );
}
