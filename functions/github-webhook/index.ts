// The `github-webhook` edge function: GitHub App webhook deliveries (see app.ts).
import { connect } from '../_shared/db.ts';
import { env, requireEnv } from '../_shared/env.ts';
import { createGitHubWebhookApp } from './app.ts';

const app = createGitHubWebhookApp({
  sql: connect(requireEnv('SUPABASE_DB_URL')),
  secret: env('GITHUB_WEBHOOK_SECRET') || null,
});

export default app;
