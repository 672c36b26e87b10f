import { describe, expect, it } from 'vitest';
import {
  attentionOf,
  buildTree,
  classify,
  countMatching,
  filterTree,
  isTaskFilter,
  type AttentionMap,
  type TreeNode,
  type TreeTask,
} from '../../web/src/lib/task-tree.ts';

/** The task tree without a browser: lineage into nesting, attempts, filters. */
let clock = 0;
function task(id: string, patch: Partial<TreeTask> = {}): TreeTask {
  clock++;
  return {
    id,
    parentTaskId: null,
    sourceTaskId: null,
    triggeredBy: 'user',
    status: 'completed',
    executionStep: null,
    createdAt: `2026-12-02T10:00:${String(clock).padStart(2, '0')}.000Z`,
    ...patch,
  };
}

/** The forest as nested ids: `id[attempts](children)`. */
function shape(forest: TreeNode<TreeTask>[]): string[] {
  const one = (n: TreeNode<TreeTask>): string =>
    `${n.context ? '~' : ''}${n.task.id}` +
    (n.attempts.length ? `[${n.attempts.map(one).join(',')}]` : '') +
    (n.children.length ? `(${n.children.map(one).join(',')})` : '');
  return forest.map(one);
}

const NONE: AttentionMap = new Map();

describe('task tree', () => {
  it('classifies tasks as the task_lineage view does', () => {
    expect(classify({ parentTaskId: null, triggeredBy: 'user' })).toBe('root');
    expect(classify({ parentTaskId: 'p', triggeredBy: 'mcp' })).toBe('sub-task');
    expect(classify({ parentTaskId: 'p', triggeredBy: 'retry' })).toBe('retry');
    expect(classify({ parentTaskId: 'p', triggeredBy: 'fork' })).toBe('fork');
    expect(classify({ parentTaskId: null, triggeredBy: 'cron' })).toBe('root');
  });

  it('nests sub-tasks and forks under their parent, roots newest first, children oldest first', () => {
    const forest = buildTree([
      task('a'),
      task('a1', { parentTaskId: 'a', triggeredBy: 'mcp' }),
      task('a1x', { parentTaskId: 'a1', triggeredBy: 'mcp' }),
      task('af', { parentTaskId: 'a', sourceTaskId: 'a', triggeredBy: 'fork' }),
      task('b'),
    ]);
    expect(shape(forest)).toEqual(['b', 'a(a1(a1x),af)']);
    expect(forest[1]!.children.map((c) => c.kind)).toEqual(['sub-task', 'fork']);
  });

  it('groups retries with their original as attempts 2, 3…, whoever asked for them', () => {
    const forest = buildTree([
      task('a', { status: 'failed' }),
      // The user retried a (parent = source = a), then retried that retry.
      task('r1', { parentTaskId: 'a', sourceTaskId: 'a', triggeredBy: 'retry', status: 'cancelled' }),
      task('r2', { parentTaskId: 'r1', sourceTaskId: 'r1', triggeredBy: 'retry', status: 'in_progress' }),
      task('r2s', { parentTaskId: 'r2', triggeredBy: 'mcp' }),
      // A parent agent retried its sub-task s (parent = the parent's task, source = s).
      task('s', { parentTaskId: 'a', triggeredBy: 'mcp', status: 'failed' }),
      task('sr', { parentTaskId: 'a', sourceTaskId: 's', triggeredBy: 'retry' }),
    ]);
    expect(shape(forest)).toEqual(['a[r1,r2(r2s)](s[sr])']);
    const a = forest[0]!;
    expect(a.attempts.map((n) => [n.task.id, n.attempt, n.kind])).toEqual([
      ['r1', 2, 'retry'],
      ['r2', 3, 'retry'],
    ]);
    expect(a.children[0]!.attempts[0]!.attempt).toBe(2);
  });

  it('keeps a task whose parent or original is not loaded at the top, and survives a lineage loop', () => {
    const forest = buildTree([
      task('orphan', { parentTaskId: 'gone', triggeredBy: 'mcp' }),
      task('lost-retry', { parentTaskId: 'gone2', sourceTaskId: 'gone2', triggeredBy: 'retry' }),
      task('x', { parentTaskId: 'y', triggeredBy: 'mcp' }),
      task('y', { parentTaskId: 'x', triggeredBy: 'mcp' }),
      task('orphan', { title: 'duplicate' } as Partial<TreeTask>),
    ]);
    expect(shape(forest).sort()).toEqual(['lost-retry', 'orphan', 'x', 'y']);
  });

  it('says what needs the user: a reply, a question, a permission, a budget — never on an ended task', () => {
    const pending: AttentionMap = new Map([
      ['q', ['question', 'permission']],
      ['ended', ['question']],
    ]);
    expect(attentionOf(task('f', { status: 'in_progress', executionStep: 'awaiting_followup' }), NONE)).toEqual([
      'followup',
    ]);
    expect(attentionOf(task('q', { status: 'in_progress', executionStep: 'running' }), pending)).toEqual([
      'question',
      'permission',
    ]);
    expect(attentionOf(task('ended', { status: 'completed' }), pending)).toEqual([]);
    expect(attentionOf(task('busy', { status: 'in_progress', executionStep: 'running' }), NONE)).toEqual([]);
  });

  it('filters: a match keeps its ancestors as context; the rest goes', () => {
    const pending: AttentionMap = new Map([['c2', ['budget']]]);
    const forest = buildTree([
      task('a', { status: 'in_progress', executionStep: 'running' }),
      task('c1', { parentTaskId: 'a', triggeredBy: 'mcp', status: 'completed' }),
      task('c2', { parentTaskId: 'a', triggeredBy: 'mcp', status: 'in_progress', executionStep: 'running' }),
      task('b', { status: 'failed' }),
      task('br', { parentTaskId: 'b', sourceTaskId: 'b', triggeredBy: 'retry', status: 'completed' }),
      task('d', { status: 'cancelled' }),
    ]);
    expect(shape(filterTree(forest, 'all', pending))).toEqual(['d', 'b[br]', 'a(c1,c2)']);
    expect(shape(filterTree(forest, 'active', pending))).toEqual(['a(c2)']);
    expect(shape(filterTree(forest, 'needs-me', pending))).toEqual(['~a(c2)']);
    expect(shape(filterTree(forest, 'done', pending))).toEqual(['~b[br]', '~a(c1)']);
    expect(shape(filterTree(forest, 'failed', pending))).toEqual(['d', 'b']);
    expect(countMatching(forest, 'done', pending)).toBe(2);
    expect(countMatching(forest, 'all', pending)).toBe(6);
    // Filtering leaves the tree it was given as it was.
    expect(shape(forest)).toEqual(['d', 'b[br]', 'a(c1,c2)']);
  });

  it('knows its filters by name (the URL carries one)', () => {
    expect(['all', 'active', 'needs-me', 'done', 'failed'].every(isTaskFilter)).toBe(true);
    expect(isTaskFilter('everything')).toBe(false);
    expect(isTaskFilter(null)).toBe(false);
  });
});
