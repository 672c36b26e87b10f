import type { TaskStatus } from './types.ts';

/**
 * The ideas board's columns. An idea is a task that began as one; its stage is its task's status
 * (the same mapping as `public.idea_stage` in supabase/migrations/20261202093000_ideas_board.sql).
 */
export const IDEA_STAGES = ['exploring', 'ready', 'executing', 'done', 'parked'] as const;
export type IdeaStage = (typeof IDEA_STAGES)[number];

export const STAGE_LABELS: Record<IdeaStage, string> = {
  exploring: 'Exploring',
  ready: 'Ready',
  executing: 'Executing',
  done: 'Done',
  parked: 'Parked',
};

export function stageOf(status: TaskStatus): IdeaStage {
  switch (status) {
    case 'draft':
      return 'exploring';
    case 'ready':
      return 'ready';
    case 'completed':
      return 'done';
    case 'cancelled':
    case 'failed':
      return 'parked';
    default:
      return 'executing';
  }
}

export function isIdeaStage(s: string): s is IdeaStage {
  return (IDEA_STAGES as readonly string[]).includes(s);
}

/** What a card needs to know to offer its moves. */
export interface Movable {
  status: TaskStatus;
  /** Set once the idea ran (its task has a chat). */
  sessionId: string | null;
}

/**
 * The columns the owner may move an idea to by hand (`move_idea`'s guard, mirrored for the
 * buttons and drop targets). Executing is the "Execute" action; a running or done idea stays.
 */
export function movesFrom(idea: Movable): IdeaStage[] {
  switch (idea.status) {
    case 'draft':
      return ['ready', 'parked'];
    case 'ready':
      return ['exploring', 'done', 'parked'];
    case 'cancelled':
      return idea.sessionId ? ['ready'] : ['exploring', 'ready'];
    case 'failed':
      return ['ready'];
    default:
      return [];
  }
}

export function canExecute(idea: Movable): boolean {
  return idea.status === 'draft' || idea.status === 'ready';
}

/** Title, content and priority are edited while the idea has not run (update_idea's rule). */
export function canEdit(idea: Movable): boolean {
  return idea.status === 'draft' || idea.status === 'ready';
}
