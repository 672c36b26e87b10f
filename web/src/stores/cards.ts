/**
 * Answers to the chat's cards. The outcome comes back as a chat message (live on `session:<id>`),
 * which is what turns a card from a question into its answer; nothing is kept here.
 */
import type { BudgetLimits, PermissionDecision } from '../../../functions/_shared/common/contracts/cards.ts';
import * as api from '../lib/supabase/index.ts';

export const answerPermission = (requestId: string, decision: PermissionDecision) =>
  api.answerPermission(requestId, decision);
export const revokePermissionAlways = (requestId: string) => api.revokePermissionAlways(requestId);
export const continueBudget = (taskId: string, limits: BudgetLimits) => api.continueBudget(taskId, limits);
export const stopBudget = (taskId: string) => api.stopBudget(taskId);
