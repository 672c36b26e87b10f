import type { Task, TaskStatus, TaskStep } from './types.ts';

/** What the person sees while a task starts (SAM's `EXECUTION_STEP_LABELS`). */
export const STEP_LABELS: Record<TaskStep, string> = {
  node_selection: 'Finding a server…',
  node_provisioning: 'Setting up a new server…',
  node_agent_ready: 'Waiting for the server to start…',
  workspace_creation: 'Creating the workspace…',
  workspace_ready: 'Workspace ready…',
  agent_session: 'Starting the agent…',
  running: 'Agent is working…',
  awaiting_followup: 'Waiting for your reply',
};

export const STATUS_LABELS: Record<TaskStatus, string> = {
  draft: 'Draft',
  ready: 'Ready',
  queued: 'Queued',
  delegated: 'Starting',
  in_progress: 'In progress',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

export function isTerminal(status: TaskStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled';
}

/** One line in words: the step while it runs, the outcome when it ended. */
export function taskProgress(task: Pick<Task, 'status' | 'executionStep'>): string {
  if (task.executionStep && !isTerminal(task.status)) return STEP_LABELS[task.executionStep];
  return STATUS_LABELS[task.status];
}
