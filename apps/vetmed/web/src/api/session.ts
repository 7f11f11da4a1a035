import { useSyncExternalStore } from 'react';
import type { RouterOutputs } from './app-router.js';

/** The signed-in user and their bearer token, as sign-in answers them. */
export type Session = Pick<RouterOutputs['auth']['signIn'], 'token' | 'user'>;

const storageKey = 'vetmed.session';
const listeners = new Set<() => void>();

function read(): Session | null {
  try {
    const text = localStorage.getItem(storageKey);
    if (!text) return null;
    const parsed = JSON.parse(text) as Partial<Session>;
    return typeof parsed.token === 'string' && parsed.user ? (parsed as Session) : null;
  } catch {
    return null;
  }
}

let current = read();

// Another tab signing in or out changes this one too.
window.addEventListener('storage', (event) => {
  if (event.key !== storageKey) return;
  current = read();
  for (const listener of listeners) listener();
});

/**
 * The session, kept in localStorage so it outlives a reload and is shared by the tabs. The page's
 * Content-Security-Policy allows scripts from the app's origin only, which is what stands between
 * the token and an injected script.
 */
export const sessionStore = {
  get: (): Session | null => current,
  set(session: Session | null): void {
    current = session;
    if (session) localStorage.setItem(storageKey, JSON.stringify(session));
    else localStorage.removeItem(storageKey);
    for (const listener of listeners) listener();
  },
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};

/** The session, re-rendering on sign-in and sign-out. */
export function useSession(): Session | null {
  return useSyncExternalStore(sessionStore.subscribe, sessionStore.get);
}
