import type { ToolDefinition } from '../tool.ts';
import { getSessionMessages, getTaskDetails, listTasks } from './awareness.ts';
import { dispatchTask } from './dispatch.ts';
import { createIdea, getIdea, listIdeas, searchIdeas, updateIdea } from './ideas.ts';
import { completeTask, getInstructions, requestHumanInput, updateTaskStatus } from './lifecycle.ts';
import {
  getPendingMessages,
  getSubtaskStatus,
  listSubtasks,
  retrySubtask,
  sendMessageToSubtask,
  stopSubtask,
} from './subtasks.ts';

/** Every tool SAM's MCP server offers, in the order `tools/list` shows them. */
export const TOOLS: readonly ToolDefinition[] = [
  getInstructions,
  updateTaskStatus,
  completeTask,
  requestHumanInput,
  dispatchTask,
  listSubtasks,
  getSubtaskStatus,
  sendMessageToSubtask,
  stopSubtask,
  retrySubtask,
  getPendingMessages,
  createIdea,
  updateIdea,
  listIdeas,
  getIdea,
  searchIdeas,
  listTasks,
  getTaskDetails,
  getSessionMessages,
] as ToolDefinition[];
