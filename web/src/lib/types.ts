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
  /** Whether the agent's work is on the branch (set when the machine reports its push). */
  pushed: boolean;
  commitSha: string | null;
  summary: string | null;
  errorMessage: string | null;
  createdAt: string;
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
  pushed?: boolean | null;
  commitSha?: string | null;
  errorMessage?: string | null;
}

export type ChannelStatus = 'connecting' | 'live' | 'reconnecting' | 'closed';
