/** `agent_profiles` rows as PostgREST returns them, mapped to and from the app's shape, and the table's errors in words. */
import type { AgentProfile, AgentProfileInput } from './types.ts';

export interface ProfileRow {
  id: string;
  project_id: string;
  name: string;
  description: string;
  agent_type: string;
  model: string | null;
  permission_mode: AgentProfile['permissionMode'];
  workspace_profile: AgentProfile['workspaceProfile'];
  task_mode: AgentProfile['taskMode'];
  instructions: string;
  max_turns: number | null;
  timeout_minutes: number | null;
  max_tokens: number | string | null;
  provider: string | null;
  vm_size: AgentProfile['vmSize'];
  location: string | null;
  updated_at: string;
}

export const PROFILE_COLUMNS =
  'id, project_id, name, description, agent_type, model, permission_mode, workspace_profile, task_mode, ' +
  'instructions, max_turns, timeout_minutes, max_tokens, provider, vm_size, location, updated_at';

export const toProfile = (r: ProfileRow): AgentProfile => ({
  id: r.id,
  projectId: r.project_id,
  name: r.name,
  description: r.description,
  agentType: r.agent_type,
  model: r.model,
  permissionMode: r.permission_mode,
  workspaceProfile: r.workspace_profile,
  taskMode: r.task_mode,
  instructions: r.instructions,
  maxTurns: r.max_turns,
  timeoutMinutes: r.timeout_minutes,
  maxTokens: r.max_tokens === null ? null : Number(r.max_tokens),
  provider: r.provider,
  vmSize: r.vm_size,
  location: r.location,
  updatedAt: r.updated_at,
});

export const toProfileRow = (p: AgentProfileInput) => ({
  name: p.name,
  description: p.description,
  agent_type: p.agentType,
  model: p.model,
  permission_mode: p.permissionMode,
  workspace_profile: p.workspaceProfile,
  task_mode: p.taskMode,
  instructions: p.instructions,
  max_turns: p.maxTurns,
  timeout_minutes: p.timeoutMinutes,
  max_tokens: p.maxTokens,
  provider: p.provider,
  vm_size: p.vmSize,
  location: p.location,
});

/** The table's checks (supabase/migrations/20261202010200_agent_profiles.sql), by constraint, in words. */
const PROFILE_CHECK_WORDS: Record<string, string> = {
  agent_profiles_name_check:
    'A name is up to 64 letters, digits, spaces, dots, dashes or underscores, starting with a letter or digit.',
  agent_profiles_description_check: 'A description is at most 500 characters.',
  agent_profiles_agent_type_check: 'That is not an agent SAM knows.',
  agent_profiles_model_check: 'That model name is not valid.',
  agent_profiles_permission_mode_check: 'Permissions are auto, ask or read-only.',
  agent_profiles_instructions_check: 'Instructions are at most 8,000 characters.',
  agent_profiles_max_turns_check: 'Max turns is between 1 and 1,000.',
  agent_profiles_timeout_minutes_check: 'The timeout is between 1 and 1,440 minutes.',
  agent_profiles_max_tokens_check: 'Max tokens is between 1,000 and 100,000,000.',
  agent_profiles_provider_check: 'A provider name is 1 to 64 characters.',
  agent_profiles_location_check: 'A location is 1 to 64 characters.',
};

/** A PostgREST error on profiles, in the user's words. */
export function profileError(error: { code?: string; message: string }, name?: string): Error {
  switch (error.code) {
    case '23505':
      return new Error(`This project already has a profile named “${name ?? ''}”. Choose another name.`);
    case '23514': {
      const constraint = Object.keys(PROFILE_CHECK_WORDS).find((c) => error.message.includes(c));
      return new Error(constraint ? PROFILE_CHECK_WORDS[constraint] : error.message);
    }
    case '42501':
      return new Error('Only the project’s owner can change its profiles.');
    case '22P02':
      return new Error(`The server refused a value: ${error.message}.`);
    default:
      return new Error(error.message || 'Something went wrong. Please try again.');
  }
}
