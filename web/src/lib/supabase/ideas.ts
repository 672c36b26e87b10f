// Ideas: the board of a project (list_ideas, under RLS), creating and editing ideas
// (create_idea / update_idea) and moving them across the board (move_idea; "executing" runs it).
import type { IdeaStage } from '../ideas.ts';
import type { TaskStatus, TaskStep } from '../types.ts';
import { sb } from './client.ts';

export interface Idea {
  id: string;
  projectId: string;
  title: string;
  content: string;
  priority: number;
  status: TaskStatus;
  stage: IdeaStage;
  executionStep: TaskStep | null;
  /** Its task's chat, once it ran. */
  sessionId: string | null;
  /** Recorded by an agent over MCP (`create_idea`) rather than by a person. */
  byAgent: boolean;
  errorMessage: string | null;
  prUrl: string | null;
  createdAt: string;
  updatedAt: string;
}

interface IdeaRow {
  id: string;
  title: string;
  content: string;
  priority: number;
  status: TaskStatus;
  stage: IdeaStage;
  execution_step: TaskStep | null;
  session_id: string | null;
  triggered_by: string;
  error_message: string | null;
  pr_url: string | null;
  created_at: string;
  updated_at: string;
}

const toIdea = (projectId: string, r: IdeaRow): Idea => ({
  id: r.id,
  projectId,
  title: r.title,
  content: r.content,
  priority: r.priority,
  status: r.status,
  stage: r.stage,
  executionStep: r.execution_step,
  sessionId: r.session_id,
  byAgent: r.triggered_by === 'mcp',
  errorMessage: r.error_message,
  prUrl: r.pr_url,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** The project's board (highest priority first), or the one idea `ideaId` of it. */
export async function listIdeas(projectId: string, ideaId?: string): Promise<Idea[]> {
  const { data, error } = await sb().rpc('list_ideas', { p_project: projectId, ...(ideaId ? { p_idea: ideaId } : {}) });
  if (error) throw new Error(error.message);
  return ((data ?? []) as IdeaRow[]).map((r) => toIdea(projectId, r));
}

export async function getIdea(projectId: string, ideaId: string): Promise<Idea | null> {
  return (await listIdeas(projectId, ideaId))[0] ?? null;
}

export interface IdeaFields {
  title: string;
  content: string;
  priority: number;
}

export async function createIdea(projectId: string, fields: IdeaFields): Promise<string> {
  const { data, error } = await sb().rpc('create_idea', {
    p_title: fields.title,
    p_content: fields.content,
    p_priority: fields.priority,
    p_project: projectId,
  });
  if (error) throw new Error(error.message);
  return data as string;
}

export async function updateIdea(ideaId: string, fields: Partial<IdeaFields>): Promise<boolean> {
  const { data, error } = await sb().rpc('update_idea', { p_idea: ideaId, p_changes: fields });
  if (error) throw new Error(error.message);
  return data as boolean;
}

/** Moves an idea to a column; to `executing` it runs as a task. False when it was there already. */
export async function moveIdea(ideaId: string, stage: IdeaStage): Promise<boolean> {
  const { data, error } = await sb().rpc('move_idea', { p_idea: ideaId, p_stage: stage });
  if (error) throw new Error(error.message);
  return data as boolean;
}
