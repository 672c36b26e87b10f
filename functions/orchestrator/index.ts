// The `orchestrator` edge function: jobs with side effects outside Postgres (see app.ts).
import { importCredentialKey } from '../_shared/credentials/cipher.ts';
import { connect } from '../_shared/db.ts';
import { env, requireEnv } from '../_shared/env.ts';
import { githubAppFrom } from '../_shared/github/config.ts';
import { providersFromEnv } from '../_shared/providers/registry.ts';
import { titleConfigFrom } from '../_shared/titles/config.ts';
import { createOrchestratorApp } from './app.ts';

const app = createOrchestratorApp({
  sql: connect(requireEnv('SUPABASE_DB_URL')),
  secret: requireEnv('SAM_ORCHESTRATOR_SECRET'),
  providers: providersFromEnv(),
  controlPlaneUrl: `${requireEnv('SUPABASE_URL').replace(/\/+$/, '')}/functions/v1/vm-agent`,
  titles: titleConfigFrom(env),
  github: githubAppFrom(env),
  credentialKey: env('SAM_CREDENTIAL_KEY') ? await importCredentialKey(requireEnv('SAM_CREDENTIAL_KEY')) : null,
});

export default app;
