export type TaskStatus =
  'draft' | 'ready' | 'queued' | 'delegated' | 'in_progress' | 'completed' | 'failed' | 'cancelled';

export type TaskStep =
  | 'node_selection'
  | 'node_provisioning'
  | 'node_agent_ready'
  | 'workspace_creation'
  | 'workspace_ready'
  | 'agent_session'
  | 'running'
  | 'awaiting_followup';

export type { ChatMessage as Message, MessageRole } from '../../../functions/_shared/common/contracts/messages.ts';

export interface Project {
  id: string;
  name: string;
  repository: string;
  repoProvider: string;
  defaultBranch: string;
  defaultAgentType: string;
  /** The profile a task runs with when the composer names none (`projects.default_agent_profile_id`). */
  defaultAgentProfileId: string | null;
  createdAt: string;
}

export interface NewProject {
  name: string;
  repository: string;
  defaultBranch: string;
  defaultAgentType: string;
}

export interface Task {
  id: string;
  projectId: string;
  title: string;
  status: TaskStatus;
  executionStep: TaskStep | null;
  sessionId: string | null;
  branch: string | null;
  prUrl: string | null;
  /** The pull request's number on GitHub, once it is open. */
  prNumber: number | null;
  /** Whether the agent's work is on the branch (set when the machine reports its push). */
  pushed: boolean;
  commitSha: string | null;
  summary: string | null;
  errorMessage: string | null;
  createdAt: string;
  /** Lineage (web/src/lib/task-tree.ts): the task it is a sub-task, retry or fork of, and how it began. */
  parentTaskId: string | null;
  sourceTaskId: string | null;
  triggeredBy: string;
}

/** A change broadcast on `project:<id>` / `session:<id>` (event `task`). */
export interface TaskEvent {
  taskId: string;
  projectId: string;
  status: TaskStatus;
  executionStep: TaskStep | null;
  title?: string;
  sessionId?: string | null;
  branch?: string | null;
  prUrl?: string | null;
  prNumber?: number | null;
  pushed?: boolean | null;
  commitSha?: string | null;
  errorMessage?: string | null;
}

export type ChannelStatus = 'connecting' | 'live' | 'reconnecting' | 'closed';

export type PermissionMode = 'auto' | 'ask' | 'read-only';
export type WorkspaceProfile = 'full' | 'lightweight';
export type TaskMode = 'task' | 'conversation';
export type VmSize = 'small' | 'medium' | 'large';

/** What a profile holds (`agent_profiles`, supabase/migrations/20261202010200_agent_profiles.sql); null = not set. */
export interface AgentProfileInput {
  name: string;
  description: string;
  agentType: string;
  model: string | null;
  permissionMode: PermissionMode;
  workspaceProfile: WorkspaceProfile | null;
  taskMode: TaskMode | null;
  instructions: string;
  maxTurns: number | null;
  timeoutMinutes: number | null;
  maxTokens: number | null;
  provider: string | null;
  vmSize: VmSize | null;
  location: string | null;
}

export interface AgentProfile extends AgentProfileInput {
  id: string;
  projectId: string;
  updatedAt: string;
}

/** A task's token usage as its agents reported it (summed over its agent sessions). */
export interface TaskUsage {
  inputTokens: number;
  outputTokens: number;
  cachedReadTokens: number;
  cachedWriteTokens: number;
  thoughtTokens: number;
  totalTokens: number;
  /** Tokens in the agent's context window now, and its size (the latest session's), when reported. */
  contextUsed: number | null;
  contextSize: number | null;
  cost: { amount: number; currency: string } | null;
  turns: number;
}
