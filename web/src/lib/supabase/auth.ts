import type { AuthError, Session } from '@supabase/supabase-js';
import { sb } from './client.ts';

export interface AuthUser {
  id: string;
  email: string;
}

const AUTH_ERROR_WORDS: Record<string, string> = {
  invalid_credentials: 'That email and password do not match an account.',
  email_not_confirmed: 'Please confirm your email address first: check your inbox for the link.',
  user_already_exists: 'An account with this email already exists. Sign in instead.',
  email_exists: 'An account with this email already exists. Sign in instead.',
  weak_password: 'That password is too weak. Use at least 6 characters.',
  over_request_rate_limit: 'Too many attempts. Wait a minute and try again.',
  over_email_send_rate_limit: 'Too many emails sent. Wait a minute and try again.',
  validation_failed: 'Please enter a valid email address and password.',
  signup_disabled: 'Sign-ups are turned off for this installation.',
};

export function describeAuthError(error: AuthError | Error): string {
  const code = (error as AuthError).code;
  if (code && AUTH_ERROR_WORDS[code]) return AUTH_ERROR_WORDS[code];
  if (error.name === 'AuthRetryableFetchError') return 'Cannot reach the server. Check your connection and try again.';
  return error.message || 'Something went wrong. Please try again.';
}

function toUser(session: Session | null): AuthUser | null {
  return session ? { id: session.user.id, email: session.user.email ?? '' } : null;
}

export async function currentUser(): Promise<AuthUser | null> {
  const { data } = await sb().auth.getSession();
  return toUser(data.session);
}

export function onAuthChange(listener: (user: AuthUser | null) => void): () => void {
  const { data } = sb().auth.onAuthStateChange((_event, session) => listener(toUser(session)));
  return () => data.subscription.unsubscribe();
}

export type SignUpResult = { kind: 'signed-in' } | { kind: 'confirm-email' } | { kind: 'error'; message: string };

export async function signUp(email: string, password: string): Promise<SignUpResult> {
  const { data, error } = await sb().auth.signUp({ email, password });
  if (error) return { kind: 'error', message: describeAuthError(error) };
  return data.session ? { kind: 'signed-in' } : { kind: 'confirm-email' };
}

export async function signIn(email: string, password: string): Promise<string | null> {
  const { error } = await sb().auth.signInWithPassword({ email, password });
  return error ? describeAuthError(error) : null;
}

export async function signOut(): Promise<void> {
  await sb().realtime.removeAllChannels();
  await sb().auth.signOut({ scope: 'local' });
}
