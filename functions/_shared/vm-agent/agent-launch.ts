/**
 * What an agent session starts with, answered to the workspace's machine with its agent token: the
 * agent type, the task's recorded profile (model, permission mode, instructions) and the one model
 * credential that agent needs — the session's owner's, resolved for the session's project. The
 * session row comes from `start_agent_session`, which takes the workspace from its token, so a
 * workspace only ever gets the credential of its own task's owner and project.
 */
import type { AgentCredential, AgentLaunchSettings } from '../common/contracts/vm-agent.ts';
import { resolveCredential } from '../credentials/store.ts';
import type { Sql, Tx } from '../db.ts';
import { HttpError } from '../http-error.ts';

/** Which vendors' keys each agent takes, in order of preference, and how the chat names them. */
export const AGENT_VENDORS: Record<string, { title: string; providers: string[]; needs: string }> = {
  'claude-code': { title: 'Claude Code', providers: ['anthropic'], needs: 'an Anthropic key' },
  codex: { title: 'Codex', providers: ['openai'], needs: 'an OpenAI key' },
  gemini: { title: 'Gemini CLI', providers: ['gemini'], needs: 'a Gemini key' },
  opencode: { title: 'OpenCode', providers: ['opencode', 'openai'], needs: 'an OpenCode or OpenAI key' },
};

type SessionRow = {
  agent_type: string;
  owner_id: string;
  project_id: string;
  agent_profile: Record<string, unknown> | null;
};

const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/**
 * The launch settings of agent session `agentSessionId`, read in the caller's transaction (RLS:
 * a workspace reads only its own sessions and task). Throws a 409 `credential_missing` that names
 * the key to add when the agent needs a credential and none is stored.
 */
export async function agentLaunchSettings(
  tx: Tx,
  sql: Sql,
  key: CryptoKey | null,
  agentSessionId: string,
): Promise<AgentLaunchSettings> {
  const [row] = (await tx`
    select s.agent_type, s.owner_id, s.project_id, t.agent_profile
      from public.agent_sessions s left join public.tasks t on t.id = s.task_id
     where s.id = ${agentSessionId}`) as unknown as SessionRow[];
  if (!row) throw new HttpError(404, 'not_found', 'No such agent session');
  const profile = row.agent_profile ?? {};
  const vendor = AGENT_VENDORS[row.agent_type];
  let credential: AgentCredential | null = null;
  if (vendor) {
    for (const provider of vendor.providers) {
      if (!key) break;
      const found = await resolveCredential(sql, key, row.owner_id, row.project_id, 'agent-api-key', provider);
      if (found) {
        credential = {
          provider,
          secretApiKey: found.secret,
          baseUrl: found.baseUrl,
          config: found.config as AgentCredential['config'],
        };
        break;
      }
    }
    if (!credential) {
      throw new HttpError(409, 'credential_missing', `${vendor.title} needs ${vendor.needs}: add one in Settings`, {
        agentType: row.agent_type,
        providers: vendor.providers,
      });
    }
  }
  return {
    agentType: row.agent_type,
    model: text(profile.model),
    permissionMode: text(profile.permissionMode),
    instructions: text(profile.instructions),
    credential,
  };
}
