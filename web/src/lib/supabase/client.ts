/**
 * The Supabase client of the web app. Only the files of `lib/supabase/` use it; everything else
 * goes through the functions they export (re-exported by `lib/supabase/index.ts`).
 *
 * It is `@supabase/ssr`'s browser client: the session lives in cookies (`sb-<ref>-auth-token`,
 * split into `.0`, `.1`, … when long), not in localStorage, so a server in front of the app could
 * read it and a copied cookie jar carries the sign-in. The cookies are `SameSite=Lax`, `Path=/`,
 * not `Secure` unless the page is https (so `http://127.0.0.1` works); requests to Supabase are
 * cross-origin and never carry them.
 */
import { createBrowserClient } from '@supabase/ssr';
import type { SupabaseClient } from '@supabase/supabase-js';
import { loadConfig } from '../config.ts';

let client: SupabaseClient | undefined;

export async function initSupabase(): Promise<void> {
  if (client) return;
  const config = await loadConfig();
  client = createBrowserClient(config.supabaseUrl, config.publishableKey, {
    // GitHub's redirect is exchanged by stores/github.ts (it also reads the installation it carries).
    auth: { persistSession: true, autoRefreshToken: true, detectSessionInUrl: false, flowType: 'pkce' },
    cookieOptions: { path: '/', sameSite: 'lax', secure: location.protocol === 'https:' },
    isSingleton: true,
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
