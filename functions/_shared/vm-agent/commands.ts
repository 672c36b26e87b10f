import type { CreateWorkspacePayload, NodeCommand } from '../common/contracts/vm-agent.ts';
import type { Sql } from '../db.ts';
import { pause } from '../common/pause.ts';
import { signSamToken, type SamClaims } from '../sam-tokens.ts';
import { asCaller, isoTime } from './identity.ts';

interface CommandRow {
  id: string;
  kind: string;
  workspace_id: string | null;
  payload: Record<string, unknown>;
  created_at: Date;
}

interface Bootstrap {
  token: { jti: string; exp: number } & Record<string, unknown>;
  workspace: Omit<CreateWorkspacePayload, 'workspaceToken' | 'workspaceTokenExpiresAt'>;
}

/**
 * Takes the node's commands that are due: pending ones, and delivered ones not acknowledged within
 * the `node_command_lease` setting (their answer may have been lost on the way; the machine applies
 * each command id once). A `create_workspace` command gets what the VM needs and a fresh workspace
 * token; one whose workspace ended before delivery is acknowledged as failed instead of delivered.
 */
export async function takeCommands(sql: Sql, secret: string, claims: SamClaims, limit = 10): Promise<NodeCommand[]> {
  const taken = await asCaller(sql, claims, async (tx) => {
    const rows = (await tx`
      select id, kind, workspace_id, payload, created_at from public.poll_node_commands(${limit})
      order by created_at`) as unknown as CommandRow[];
    const out: { row: CommandRow; bootstrap?: Bootstrap }[] = [];
    for (const row of rows) {
      if (row.kind !== 'create_workspace') {
        out.push({ row });
        continue;
      }
      const [b] = await tx`select public.node_workspace_bootstrap(${row.workspace_id}) as b`;
      const bootstrap = b?.b as Bootstrap | null;
      if (!bootstrap) {
        await tx`select public.ack_node_command(${row.id}, false, ${tx.json({ error: 'workspace no longer live' })})`;
        continue;
      }
      out.push({ row, bootstrap });
    }
    return out;
  });
  return Promise.all(
    taken.map(async ({ row, bootstrap }): Promise<NodeCommand> => {
      const base = { id: row.id, workspaceId: row.workspace_id, createdAt: row.created_at.toISOString() };
      if (!bootstrap)
        return { ...base, kind: row.kind as Exclude<NodeCommand['kind'], 'create_workspace'>, payload: row.payload };
      const { token, workspace } = bootstrap;
      return {
        ...base,
        kind: 'create_workspace',
        payload: {
          ...workspace,
          workspaceToken: await signSamToken(secret, 'workspace', token),
          workspaceTokenExpiresAt: isoTime(token.exp),
        },
      };
    }),
  );
}

/**
 * The long-poll: commands as soon as there are any, else an empty list once `waitSeconds` have
 * passed or the caller went away. LISTEN does not work through a transaction pooler, so it polls
 * every `intervalMs` (one short transaction each).
 */
export async function waitForCommands(
  sql: Sql,
  secret: string,
  claims: SamClaims,
  options: { waitSeconds: number; intervalMs: number; signal?: AbortSignal },
): Promise<NodeCommand[]> {
  const deadline = Date.now() + options.waitSeconds * 1000;
  for (;;) {
    if (options.signal?.aborted) return [];
    const commands = await takeCommands(sql, secret, claims);
    if (commands.length > 0) return commands;
    const left = deadline - Date.now();
    if (left <= 0) return commands;
    await pause(Math.min(options.intervalMs, left), options.signal);
  }
}
