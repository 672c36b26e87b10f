// The `mcp` edge function: SAM's MCP server for agents (see app.ts).
import { connect } from '../_shared/db.ts';
import { env, requireEnv } from '../_shared/env.ts';
import { createMcpApp } from './app.ts';

const app = createMcpApp({
  sql: connect(requireEnv('SUPABASE_DB_URL')),
  secret: requireEnv('SAM_JWT_SECRET'),
  rateLimitPerMinute: Number(env('SAM_MCP_RATE_LIMIT') ?? 120),
});

export default app;
