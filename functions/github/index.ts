// The `github` edge function: link GitHub App installations after proof, pick repositories (see app.ts).
import { connect } from '../_shared/db.ts';
import { env, requireEnv } from '../_shared/env.ts';
import { GitHubApp } from '../_shared/github/app.ts';
import { githubConfigFrom } from '../_shared/github/config.ts';
import { userVerifier } from '../_shared/user-auth.ts';
import { createGitHubApp } from './app.ts';

const config = githubConfigFrom(env);

const app = createGitHubApp({
  sql: connect(requireEnv('SUPABASE_DB_URL')),
  github: config
    ? {
        config,
        app: new GitHubApp({ appId: config.appId, privateKey: config.privateKey, apiUrl: config.apiUrl }),
      }
    : null,
  verifyUser: userVerifier({
    jwks: env('SUPABASE_JWKS'),
    supabaseUrl: requireEnv('SUPABASE_URL'),
    apiKey: requireEnv('SUPABASE_ANON_KEY'),
  }),
});

export default app;
