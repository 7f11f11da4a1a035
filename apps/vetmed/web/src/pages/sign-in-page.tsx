import { useMutation } from '@tanstack/react-query';
import { type FormEvent, useId, useState } from 'react';
import { sessionStore } from '../api/session.js';
import { useTRPC } from '../api/trpc.js';
import { ErrorNotice } from '../components/error-notice.js';
import { Link, navigate } from '../routing/router.js';

export function SignInPage() {
  const trpc = useTRPC();
  const emailId = useId();
  const passwordId = useId();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  // Not retried automatically: each attempt counts against the sign-in limit.
  const signIn = useMutation({
    ...trpc.auth.signIn.mutationOptions(),
    onSuccess(session) {
      sessionStore.set({ token: session.token, user: session.user });
      navigate(window.location.pathname === '/sign-in' ? '/' : window.location.pathname, { replace: true });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    signIn.mutate({ email, password });
  };
  return (
    <section className="auth-page">
      <h1>Sign in to VetMed</h1>
      <form onSubmit={submit} className="form">
        <label htmlFor={emailId}>Email</label>
        <input
          id={emailId}
          type="email"
          autoComplete="username"
          required
          value={email}
          onChange={(event) => setEmail(event.target.value)}
        />
        <label htmlFor={passwordId}>Password</label>
        <input
          id={passwordId}
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(event) => setPassword(event.target.value)}
        />
        <button type="submit" className="button-primary" disabled={signIn.isPending}>
          Sign in
        </button>
      </form>
      {signIn.isError && <ErrorNotice error={signIn.error} receivedAt={signIn.submittedAt} />}
      <p>
        New here? <Link to="/sign-up">Create an account</Link>
      </p>
    </section>
  );
}
