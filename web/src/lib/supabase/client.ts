/**
 * The Supabase client of the web app. Only the files of `lib/supabase/` use it; everything else
 * goes through the functions they export (re-exported by `lib/supabase/index.ts`).
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { loadConfig } from '../config.ts';

let client: SupabaseClient | undefined;

export async function initSupabase(): Promise<void> {
  if (client) return;
  const config = await loadConfig();
  client = createClient(config.supabaseUrl, config.publishableKey, {
    auth: { persistSession: true, autoRefreshToken: true, detectSessionInUrl: false, flowType: 'pkce' },
  });
}

export function sb(): SupabaseClient {
  if (!client) throw new Error('Supabase is not initialised yet');
  return client;
}

/** The signed-in user's id, or the words to show when there is none. */
export async function ownerId(): Promise<string> {
  const { data: auth } = await sb().auth.getSession();
  const owner = auth.session?.user.id;
  if (!owner) throw new Error('You are signed out. Sign in again.');
  return owner;
}

/** The function's `{ error: { message } }`, or the transport's words. */
export async function functionError(error: unknown): Promise<Error> {
  const response = (error as { context?: unknown }).context;
  if (response instanceof Response) {
    try {
      const body = (await response.json()) as { error?: { message?: string } };
      if (body.error?.message) return new Error(body.error.message);
    } catch {
      // not JSON: fall through to the transport's words
    }
  }
  return error instanceof Error ? error : new Error(String(error));
}
