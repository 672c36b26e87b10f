// The `credentials` edge function: users store secrets write-only (see app.ts).
import { importCredentialKey } from '../_shared/credentials/cipher.ts';
import { connect } from '../_shared/db.ts';
import { env, requireEnv } from '../_shared/env.ts';
import { cloudOptionsFromEnv } from '../_shared/providers/registry.ts';
import { userVerifier } from '../_shared/user-auth.ts';
import { createCredentialsApp } from './app.ts';

const app = createCredentialsApp({
  sql: connect(requireEnv('SUPABASE_DB_URL')),
  key: await importCredentialKey(requireEnv('SAM_CREDENTIAL_KEY')),
  verifyUser: userVerifier({
    jwks: env('SUPABASE_JWKS'),
    supabaseUrl: requireEnv('SUPABASE_URL'),
    apiKey: requireEnv('SUPABASE_ANON_KEY'),
  }),
  clouds: cloudOptionsFromEnv(),
});

export default app;
