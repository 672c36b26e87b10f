/**
 * The project's tasks as a tree, from the lineage the database records on each task
 * (`parent_task_id`, `source_task_id`, `triggered_by`): sub-tasks an agent dispatched over MCP and
 * forks sit under their parent; retries are grouped with their original as its later attempts (each
 * attempt keeps its own sub-tasks). Pure: no Solid, no Supabase, so it is unit-tested on its own.
 */
import { isTerminal } from './steps.ts';
import type { TaskStatus, TaskStep } from './types.ts';

/** As the `task_lineage` view classifies a task (supabase/schema.sql). */
export type TaskKind = 'root' | 'sub-task' | 'retry' | 'fork';

/** What needs the user on a task: its agent waits for a reply, a question, a permission, a budget. */
export type Attention = 'followup' | 'question' | 'permission' | 'budget';

export type TaskFilter = 'all' | 'active' | 'needs-me' | 'done' | 'failed';

export const TASK_FILTERS: readonly { id: TaskFilter; label: string }[] = [
  { id: 'all', label: 'All' },
  { id: 'active', label: 'Active' },
  { id: 'needs-me', label: 'Needs me' },
  { id: 'done', label: 'Done' },
  { id: 'failed', label: 'Failed' },
];

export function isTaskFilter(value: string | null | undefined): value is TaskFilter {
  return TASK_FILTERS.some((f) => f.id === value);
}

export const ATTENTION_LABELS: Record<Attention, string> = {
  followup: 'Waiting for your reply',
  question: 'Asks you a question',
  permission: 'Asks your permission',
  budget: 'Paused at its budget',
};

/** The fields of a task the tree reads. */
export interface TreeTask {
  id: string;
  parentTaskId: string | null;
  sourceTaskId: string | null;
  triggeredBy: string;
  status: TaskStatus;
  executionStep: TaskStep | null;
  createdAt: string;
}

export interface TreeNode<T extends TreeTask> {
  task: T;
  kind: TaskKind;
  /** 1 for a task that is no retry; n for the original's (n-1)-th retry. */
  attempt: number;
  /** The later attempts of this task (retries of it, and of them), oldest first; only on an original. */
  attempts: TreeNode<T>[];
  /** Sub-tasks and forks of this task, oldest first. */
  children: TreeNode<T>[];
  /** Shown only because something under it matches the filter. */
  context: boolean;
}

/** The same rule as `task_lineage.classification`. */
export function classify(task: Pick<TreeTask, 'parentTaskId' | 'triggeredBy'>): TaskKind {
  if (task.triggeredBy === 'retry') return 'retry';
  if (task.triggeredBy === 'fork') return 'fork';
  return task.parentTaskId ? 'sub-task' : 'root';
}

/** The open questions, permissions and budgets of tasks, by task id. */
export type AttentionMap = ReadonlyMap<string, readonly Attention[]>;

/** What needs the user on this task now (nothing once it ended). */
export function attentionOf(task: TreeTask, pending: AttentionMap): Attention[] {
  if (isTerminal(task.status)) return [];
  const out: Attention[] = [];
  if (task.status === 'in_progress' && task.executionStep === 'awaiting_followup') out.push('followup');
  for (const a of pending.get(task.id) ?? []) if (!out.includes(a)) out.push(a);
  return out;
}

export function matchesFilter(task: TreeTask, filter: TaskFilter, pending: AttentionMap): boolean {
  switch (filter) {
    case 'all':
      return true;
    case 'active':
      return task.status === 'queued' || task.status === 'delegated' || task.status === 'in_progress';
    case 'needs-me':
      return attentionOf(task, pending).length > 0;
    case 'done':
      return task.status === 'completed';
    case 'failed':
      return task.status === 'failed' || task.status === 'cancelled';
  }
}

const byAge = <T extends TreeTask>(a: TreeNode<T>, b: TreeNode<T>) =>
  a.task.createdAt < b.task.createdAt ? -1 : a.task.createdAt > b.task.createdAt ? 1 : a.task.id < b.task.id ? -1 : 1;

/**
 * Builds the forest: roots newest first. A task whose parent (or, for a retry, whose original) is
 * not among `tasks` stands at the top, so nothing loaded is ever hidden.
 */
export function buildTree<T extends TreeTask>(tasks: readonly T[]): TreeNode<T>[] {
  const nodes = new Map<string, TreeNode<T>>();
  for (const task of tasks) {
    if (nodes.has(task.id)) continue;
    nodes.set(task.id, { task, kind: classify(task), attempt: 1, attempts: [], children: [], context: false });
  }
  /** A retry's original: its source, or the source's original when the source is a retry too. */
  const originalOf = (node: TreeNode<T>): TreeNode<T> | null => {
    const seen = new Set<string>([node.task.id]);
    let current = node;
    while (current.kind === 'retry' && current.task.sourceTaskId) {
      const source = nodes.get(current.task.sourceTaskId);
      if (!source || seen.has(source.task.id)) break;
      seen.add(source.task.id);
      current = source;
    }
    return current === node ? null : current;
  };
  /** True when `ancestor` is `node` or above it (a parent link that would close a loop is not followed). */
  const isAbove = (ancestor: TreeNode<T>, node: TreeNode<T>): boolean => {
    const seen = new Set<string>();
    for (let id: string | null = node.task.id; id && !seen.has(id);) {
      if (id === ancestor.task.id) return true;
      seen.add(id);
      const n = nodes.get(id);
      const up: string | null = n ? (n.kind === 'retry' && n.task.sourceTaskId) || n.task.parentTaskId : null;
      id = up;
    }
    return false;
  };

  const roots: TreeNode<T>[] = [];
  for (const node of nodes.values()) {
    const original = node.kind === 'retry' ? originalOf(node) : null;
    if (original) {
      original.attempts.push(node);
      continue;
    }
    const parent = node.task.parentTaskId ? nodes.get(node.task.parentTaskId) : undefined;
    if (parent && !isAbove(node, parent)) parent.children.push(node);
    else roots.push(node);
  }
  for (const node of nodes.values()) {
    node.children.sort(byAge);
    node.attempts.sort(byAge);
    node.attempts.forEach((a, i) => (a.attempt = i + 2));
  }
  return roots.sort((a, b) => -byAge(a, b));
}

/**
 * The forest as the filter shows it: a node stays when it matches or something under it (a
 * sub-task or an attempt) does; kept only for what is under it, it is marked `context`.
 */
export function filterTree<T extends TreeTask>(
  forest: readonly TreeNode<T>[],
  filter: TaskFilter,
  pending: AttentionMap,
): TreeNode<T>[] {
  if (filter === 'all') return [...forest];
  const keep = (node: TreeNode<T>): TreeNode<T> | null => {
    const attempts = node.attempts.map(keep).filter((n): n is TreeNode<T> => n !== null);
    const children = node.children.map(keep).filter((n): n is TreeNode<T> => n !== null);
    const matches = matchesFilter(node.task, filter, pending);
    if (!matches && attempts.length === 0 && children.length === 0) return null;
    return { ...node, attempts, children, context: !matches };
  };
  return forest.map(keep).filter((n): n is TreeNode<T> => n !== null);
}

/** How many tasks of the forest match the filter (every node, at any depth). */
export function countMatching<T extends TreeTask>(
  forest: readonly TreeNode<T>[],
  filter: TaskFilter,
  pending: AttentionMap,
): number {
  let n = 0;
  const walk = (node: TreeNode<T>) => {
    if (matchesFilter(node.task, filter, pending)) n++;
    node.attempts.forEach(walk);
    node.children.forEach(walk);
  };
  forest.forEach(walk);
  return n;
}
