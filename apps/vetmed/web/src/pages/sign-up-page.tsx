import { useMutation } from '@tanstack/react-query';
import { type FormEvent, useId, useState } from 'react';
import { sessionStore } from '../api/session.js';
import { useTRPC } from '../api/trpc.js';
import { ErrorNotice } from '../components/error-notice.js';
import { Link, navigate } from '../routing/router.js';

export function SignUpPage() {
  const trpc = useTRPC();
  const nameId = useId();
  const emailId = useId();
  const passwordId = useId();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const signUp = useMutation({
    ...trpc.auth.signUp.mutationOptions(),
    onSuccess(session) {
      sessionStore.set({ token: session.token, user: session.user });
      navigate('/', { replace: true });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    signUp.mutate({ name, email, password });
  };
  return (
    <section className="auth-page">
      <h1>Create a VetMed account</h1>
      <form onSubmit={submit} className="form">
        <label htmlFor={nameId}>Your name</label>
        <input
          id={nameId}
          autoComplete="name"
          required
          value={name}
          onChange={(event) => setName(event.target.value)}
        />
        <label htmlFor={emailId}>Email</label>
        <input
          id={emailId}
          type="email"
          autoComplete="email"
          required
          value={email}
          onChange={(event) => setEmail(event.target.value)}
        />
        <label htmlFor={passwordId}>Password</label>
        <input
          id={passwordId}
          type="password"
          autoComplete="new-password"
          minLength={10}
          required
          aria-describedby={`${passwordId}-hint`}
          value={password}
          onChange={(event) => setPassword(event.target.value)}
        />
        <p id={`${passwordId}-hint`} className="hint">
          At least 10 characters.
        </p>
        <button type="submit" className="button-primary" disabled={signUp.isPending}>
          Create account
        </button>
      </form>
      {signUp.isError && <ErrorNotice error={signUp.error} receivedAt={signUp.submittedAt} />}
      <p>
        Already have an account? <Link to="/sign-in">Sign in</Link>
      </p>
    </section>
  );
}
