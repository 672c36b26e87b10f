/**
 * What needs the user in the open project's tasks (questions, permission requests, budget pauses),
 * for the task tree's "Needs me": read on open and after every (re)join of `project:<id>`, read
 * again when an `attention` broadcast says one opened or closed. The tasks themselves are the chat
 * store's (web/src/stores/chat.ts).
 */
import { createStore, reconcile } from 'solid-js/store';
import * as api from '../lib/supabase/index.ts';
import type { Attention, AttentionMap } from '../lib/task-tree.ts';

interface TreeState {
  projectId: string | null;
  /** Task id → what of it is pending. */
  pending: Record<string, Attention[]>;
  error: string | null;
}

const [tree, setTree] = createStore<TreeState>({ projectId: null, pending: {}, error: null });

export { tree };

let reading = 0;

/** Reads the project's pending questions, permissions and budgets (the newest read wins). */
export async function loadAttention(projectId: string): Promise<void> {
  const mine = ++reading;
  if (tree.projectId !== projectId) setTree({ projectId, pending: {}, error: null });
  try {
    const rows = await api.listAttention(projectId);
    if (mine !== reading || tree.projectId !== projectId) return;
    const pending: Record<string, Attention[]> = {};
    for (const r of rows) {
      const kinds = (pending[r.taskId] ??= []);
      if (!kinds.includes(r.kind)) kinds.push(r.kind);
    }
    setTree('pending', reconcile(pending));
    setTree('error', null);
  } catch (e) {
    if (mine === reading) setTree('error', e instanceof Error ? e.message : String(e));
  }
}

let again: ReturnType<typeof setTimeout> | undefined;

/** A question, permission or budget of the open project changed: read them again (once per burst). */
export function applyAttention(event: api.AttentionEvent): void {
  if (event.projectId !== tree.projectId) return;
  clearTimeout(again);
  again = setTimeout(() => void loadAttention(event.projectId), 150);
}

export function forgetAttention(): void {
  clearTimeout(again);
  reading++;
  setTree({ projectId: null, pending: {}, error: null });
}

/** The pending map as web/src/lib/task-tree.ts reads it. */
export function attentionMap(): AttentionMap {
  return new Map(Object.entries(tree.pending));
}
