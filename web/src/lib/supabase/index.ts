/**
 * The only place the web app talks to Supabase: Auth, PostgREST (under RLS), RPC, functions and
 * private Realtime channels, one file per slice. Everything else imports from here.
 */
export { initSupabase } from './client.ts';
export * from './auth.ts';
export * from './projects.ts';
export * from './profiles.ts';
export * from './tasks.ts';
export * from './attention.ts';
export * from './messages.ts';
export * from './realtime.ts';
export * from './credentials.ts';
export * from './cards.ts';
export * from './usage.ts';
export * from './machines.ts';
export * from './nodes.ts';
export * from './github.ts';
export * from './github-auth.ts';
export * from './ideas.ts';
export * from './questions.ts';
export * from './notifications.ts';
export * from './controls.ts';
export * from './budgets.ts';
