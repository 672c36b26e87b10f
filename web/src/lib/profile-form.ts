/**
 * The agent profile form: what the user typed (all text) and its checks, the same ones the table
 * makes (supabase/migrations/20261202010200_agent_profiles.sql), said in words before the server
 * is asked.
 */
import { isAgentType } from '../../../functions/_shared/common/contracts/agents.ts';
import type { AgentProfile, AgentProfileInput, PermissionMode, TaskMode, VmSize, WorkspaceProfile } from './types.ts';

export interface ProfileDraft {
  name: string;
  description: string;
  agentType: string;
  model: string;
  permissionMode: string;
  workspaceProfile: string;
  taskMode: string;
  instructions: string;
  maxTurns: string;
  timeoutMinutes: string;
  maxTokens: string;
  provider: string;
  vmSize: string;
  location: string;
}

export type ProfileField = keyof ProfileDraft;
export type ProfileErrors = Partial<Record<ProfileField, string>>;

export const PERMISSION_MODES: { id: PermissionMode; label: string }[] = [
  { id: 'auto', label: 'Auto — SAM approves what the agent asks' },
  { id: 'ask', label: 'Ask — I answer each request in the chat' },
  { id: 'read-only', label: 'Read-only — anything that would change something is refused' },
];
export const WORKSPACE_PROFILES: { id: WorkspaceProfile; label: string }[] = [
  { id: 'full', label: 'Full (dev container)' },
  { id: 'lightweight', label: 'Lightweight' },
];
export const TASK_MODES: { id: TaskMode; label: string }[] = [
  { id: 'task', label: 'Task (works to a pushed branch)' },
  { id: 'conversation', label: 'Conversation (stays for follow-ups)' },
];
export const VM_SIZES: { id: VmSize; label: string }[] = [
  { id: 'small', label: 'Small' },
  { id: 'medium', label: 'Medium' },
  { id: 'large', label: 'Large' },
];

export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;
export const MODEL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$/;
export const LIMITS = {
  description: 500,
  instructions: 8000,
  maxTurns: [1, 1000],
  timeoutMinutes: [1, 1440],
  maxTokens: [1000, 100_000_000],
  provider: 64,
  location: 64,
} as const;

export function emptyDraft(agentType: string): ProfileDraft {
  return {
    name: '',
    description: '',
    agentType,
    model: '',
    permissionMode: 'auto',
    workspaceProfile: '',
    taskMode: '',
    instructions: '',
    maxTurns: '',
    timeoutMinutes: '',
    maxTokens: '',
    provider: '',
    vmSize: '',
    location: '',
  };
}

export function draftOf(p: AgentProfile): ProfileDraft {
  const text = (v: string | number | null) => (v === null ? '' : String(v));
  return {
    name: p.name,
    description: p.description,
    agentType: p.agentType,
    model: text(p.model),
    permissionMode: p.permissionMode,
    workspaceProfile: text(p.workspaceProfile),
    taskMode: text(p.taskMode),
    instructions: p.instructions,
    maxTurns: text(p.maxTurns),
    timeoutMinutes: text(p.timeoutMinutes),
    maxTokens: text(p.maxTokens),
    provider: text(p.provider),
    vmSize: text(p.vmSize),
    location: text(p.location),
  };
}

const oneOf = <T extends string>(options: { id: T }[], value: string): T | undefined =>
  options.find((o) => o.id === value)?.id;

/** A whole number in [min, max], or null when left empty; a string is the error in words. */
function whole(value: string, [min, max]: readonly [number, number], what: string): number | null | string {
  const v = value.trim();
  if (!v) return null;
  if (!/^\d+$/.test(v)) return `${what} is a whole number.`;
  const n = Number(v);
  if (n < min || n > max) return `${what} is between ${min.toLocaleString('en')} and ${max.toLocaleString('en')}.`;
  return n;
}

export type Checked = { ok: true; value: AgentProfileInput } | { ok: false; errors: ProfileErrors };

export function checkDraft(d: ProfileDraft): Checked {
  const errors: ProfileErrors = {};
  const name = d.name.trim();
  if (!name) errors.name = 'A profile needs a name.';
  else if (!NAME_PATTERN.test(name)) {
    errors.name =
      'A name is up to 64 letters, digits, spaces, dots, dashes or underscores, starting with a letter or digit.';
  }
  if (d.description.length > LIMITS.description) {
    errors.description = `A description is at most ${LIMITS.description} characters.`;
  }
  if (!isAgentType(d.agentType)) errors.agentType = 'Choose one of the agents offered.';
  const model = d.model.trim();
  if (model && !MODEL_PATTERN.test(model)) {
    errors.model =
      'A model name is up to 128 letters, digits or . _ : / @ -, starting with a letter or digit (e.g. gpt-5.3-codex).';
  }
  const permissionMode = oneOf(PERMISSION_MODES, d.permissionMode);
  if (!permissionMode) errors.permissionMode = 'Choose auto, ask or read-only.';
  const workspaceProfile = d.workspaceProfile ? oneOf(WORKSPACE_PROFILES, d.workspaceProfile) : null;
  if (workspaceProfile === undefined) errors.workspaceProfile = 'Choose full or lightweight.';
  const taskMode = d.taskMode ? oneOf(TASK_MODES, d.taskMode) : null;
  if (taskMode === undefined) errors.taskMode = 'Choose task or conversation.';
  const vmSize = d.vmSize ? oneOf(VM_SIZES, d.vmSize) : null;
  if (vmSize === undefined) errors.vmSize = 'Choose small, medium or large.';
  if (d.instructions.length > LIMITS.instructions) {
    errors.instructions = `Instructions are at most ${LIMITS.instructions.toLocaleString('en')} characters.`;
  }
  const maxTurns = whole(d.maxTurns, LIMITS.maxTurns, 'Max turns');
  if (typeof maxTurns === 'string') errors.maxTurns = maxTurns;
  const timeoutMinutes = whole(d.timeoutMinutes, LIMITS.timeoutMinutes, 'The timeout in minutes');
  if (typeof timeoutMinutes === 'string') errors.timeoutMinutes = timeoutMinutes;
  const maxTokens = whole(d.maxTokens, LIMITS.maxTokens, 'Max tokens');
  if (typeof maxTokens === 'string') errors.maxTokens = maxTokens;
  const provider = d.provider.trim();
  if (provider.length > LIMITS.provider) errors.provider = `A provider name is at most ${LIMITS.provider} characters.`;
  const location = d.location.trim();
  if (location.length > LIMITS.location) errors.location = `A location is at most ${LIMITS.location} characters.`;

  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return {
    ok: true,
    value: {
      name,
      description: d.description.trim(),
      agentType: d.agentType,
      model: model || null,
      permissionMode: permissionMode!,
      workspaceProfile: workspaceProfile ?? null,
      taskMode: taskMode ?? null,
      instructions: d.instructions.trim(),
      maxTurns: maxTurns as number | null,
      timeoutMinutes: timeoutMinutes as number | null,
      maxTokens: maxTokens as number | null,
      provider: provider || null,
      vmSize: vmSize ?? null,
      location: location || null,
    },
  };
}
