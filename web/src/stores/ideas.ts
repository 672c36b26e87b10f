/**
 * The open project's ideas board: read with list_ideas, kept live from `project:<id>` (an idea an
 * agent records over MCP, a move, a run's steps and its end), re-read after every (re)join.
 */
import { createStore, produce, reconcile } from 'solid-js/store';
import type { IdeaStage } from '../lib/ideas.ts';
import * as api from '../lib/supabase/index.ts';
import type { Idea, IdeaFields } from '../lib/supabase/index.ts';
import type { ChannelStatus, TaskEvent } from '../lib/types.ts';

interface IdeasState {
  projectId: string | null;
  items: Idea[];
  loaded: boolean;
  channel: ChannelStatus;
  error: string | null;
}

const [ideas, setState] = createStore<IdeasState>({
  projectId: null,
  items: [],
  loaded: false,
  channel: 'closed',
  error: null,
});

export { ideas };

let leave: () => void = () => {};

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));
const failed = (e: unknown) => setState('error', message(e));

const byPriority = (a: Idea, b: Idea) => b.priority - a.priority || b.createdAt.localeCompare(a.createdAt);

function upsert(idea: Idea): void {
  setState(
    produce((s) => {
      const i = s.items.findIndex((x) => x.id === idea.id);
      if (i >= 0) s.items[i] = idea;
      else s.items.push(idea);
      s.items.sort(byPriority);
    }),
  );
}

/** Reads one idea again; gone from the board (not an idea, or not visible) → removed. */
async function refresh(projectId: string, id: string): Promise<void> {
  const idea = await api.getIdea(projectId, id);
  if (ideas.projectId !== projectId) return;
  if (idea) upsert(idea);
  else setState('items', (items) => items.filter((x) => x.id !== id));
}

async function reload(projectId: string): Promise<void> {
  const items = await api.listIdeas(projectId);
  if (ideas.projectId !== projectId) return;
  setState('items', reconcile(items, { key: 'id' }));
  setState({ loaded: true, error: null });
}

function onTask(projectId: string, e: TaskEvent): void {
  if (e.projectId !== projectId) return;
  const known = ideas.items.some((x) => x.id === e.taskId);
  // A card on the board changed (moved, ran a step, ended, edited), or a new idea was recorded.
  if (known || e.status === 'draft' || e.status === 'ready') void refresh(projectId, e.taskId).catch(failed);
}

export function openBoard(projectId: string): void {
  if (ideas.projectId === projectId) return;
  closeBoard();
  setState({ projectId, items: [], loaded: false, error: null });
  void reload(projectId).catch(failed);
  leave = api.joinTopic(`project:${projectId}`, {
    onTask: (e) => onTask(projectId, e),
    onStatus(status) {
      setState('channel', status);
      // Whatever changed while the channel was not live: read the board again.
      if (status === 'live') void reload(projectId).catch(failed);
    },
  });
}

export function closeBoard(): void {
  leave();
  leave = () => {};
  setState({ projectId: null, items: [], loaded: false, channel: 'closed', error: null });
}

export function ideaById(id: string): Idea | undefined {
  return ideas.items.find((x) => x.id === id);
}

/** Runs `action` for the open board, then reads `id` again; errors are shown on the board and re-thrown. */
async function act<T>(id: string | null, action: () => Promise<T>): Promise<T> {
  const projectId = ideas.projectId;
  try {
    const result = await action();
    setState('error', null);
    const target = id ?? (typeof result === 'string' ? result : null);
    if (projectId && target) await refresh(projectId, target);
    return result;
  } catch (e) {
    failed(e);
    throw e;
  }
}

export function createIdea(projectId: string, fields: IdeaFields): Promise<string> {
  return act(null, () => api.createIdea(projectId, fields));
}

export function saveIdea(id: string, fields: IdeaFields): Promise<boolean> {
  return act(id, () => api.updateIdea(id, fields));
}

/** Moves an idea to a column; `executing` runs it as a task. */
export function moveIdea(id: string, stage: IdeaStage): Promise<boolean> {
  return act(id, () => api.moveIdea(id, stage));
}
