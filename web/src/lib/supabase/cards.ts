// Cards in the chat: answers to an agent's permission request and to a task paused at its budget.
import type { BudgetLimits, PermissionDecision } from '../../../../functions/_shared/common/contracts/cards.ts';
import { sb } from './client.ts';

/** Allow once, always (this kind of request, for the rest of the task and its retries) or reject; the agent gets it through its machine. */
export async function answerPermission(requestId: string, decision: PermissionDecision): Promise<void> {
  const { error } = await sb().rpc('answer_permission_request', { p_request: requestId, p_decision: decision });
  if (error) throw new Error(error.message);
}

/** The owner takes back an "always" answer: the agent's next request of that kind asks again. */
export async function revokePermissionAlways(requestId: string): Promise<void> {
  const { error } = await sb().rpc('revoke_permission_always', { p_request: requestId });
  if (error) throw new Error(error.message);
}

/** A task paused at its budget goes on with these limits (null: no limit). */
export async function continueBudget(taskId: string, limits: BudgetLimits): Promise<void> {
  const { error } = await sb().rpc('continue_task_budget', { p_task: taskId, p_limits: limits });
  if (error) throw new Error(error.message);
}

/** A task paused at its budget is stopped (cancelled). */
export async function stopBudget(taskId: string): Promise<void> {
  const { error } = await sb().rpc('stop_task_budget', { p_task: taskId });
  if (error) throw new Error(error.message);
}
