// The `vm-agent` edge function: node and workspace callbacks, the command long-poll, message
// batches (see app.ts).
import { importCredentialKey } from '../_shared/credentials/cipher.ts';
import { connect } from '../_shared/db.ts';
import { env, requireEnv } from '../_shared/env.ts';
import { githubAppFrom } from '../_shared/github/config.ts';
import { TaskTokens } from '../_shared/github/task-tokens.ts';
import { createVmAgentApp } from './app.ts';

const githubApp = githubAppFrom(env);
const app = createVmAgentApp({
  sql: connect(requireEnv('SUPABASE_DB_URL')),
  secret: requireEnv('SAM_JWT_SECRET'),
  mcpUrl: `${requireEnv('SUPABASE_URL').replace(/\/+$/, '')}/functions/v1/mcp`,
  credentialKey: await importCredentialKey(requireEnv('SAM_CREDENTIAL_KEY')),
  github: githubApp ? new TaskTokens(githubApp) : null,
});

export default app;
