import { createSignal } from 'solid-js';
// The slices themselves (not index.ts): the first load carries only what signing in needs.
import * as api from '../lib/supabase/auth.ts';
import { initSupabase } from '../lib/supabase/client.ts';
import { captureGitHubRedirect } from './github-auth.ts';

export type SessionState = 'loading' | 'signed-out' | 'signed-in' | 'failed';

const [state, setState] = createSignal<SessionState>('loading');
const [user, setUser] = createSignal<api.AuthUser | null>(null);
const [startupError, setStartupError] = createSignal<string | null>(null);
/** A GitHub sign-in that came back refused, in words (shown on the sign-in screen). */
const [startupNotice, setStartupNotice] = createSignal<string | null>(null);

export const session = { state, user, startupError, startupNotice };

let started = false;

/** Loads configuration, restores a saved session and follows sign-in / sign-out. */
export async function startSession(): Promise<void> {
  if (started) return;
  started = true;
  try {
    await initSupabase();
    const oauthError = await captureGitHubRedirect();
    if (oauthError) setStartupNotice(oauthError);
    const restored = await api.currentUser();
    setUser(restored);
    setState(restored ? 'signed-in' : 'signed-out');
    let currentId = restored?.id ?? null;
    api.onAuthChange((next) => {
      if ((next?.id ?? null) === currentId) return;
      currentId = next?.id ?? null;
      setUser(next);
      setState(next ? 'signed-in' : 'signed-out');
    });
  } catch (e) {
    setStartupError(e instanceof Error ? e.message : String(e));
    setState('failed');
  }
}

export const signIn = api.signIn;
export const signUp = api.signUp;

export async function signOut(): Promise<void> {
  await api.signOut();
  setUser(null);
  setState('signed-out');
}
