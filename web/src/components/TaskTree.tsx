import { createMemo, For, Show } from 'solid-js';
import { hrefOf, route } from '../lib/route.ts';
import { buildTree, countMatching, filterTree, TASK_FILTERS, type TaskFilter } from '../lib/task-tree.ts';
import { chat } from '../stores/chat.ts';
import { attentionMap, tree } from '../stores/tree.ts';
import { TaskTreeNode } from './TaskTreeNode.tsx';
import './task-tree.css';

/**
 * The project's tasks as a tree (sub-tasks and forks under their parent, retries as attempts of
 * their original), live from the chat store, narrowed by the filter in the URL (`?filter=`).
 */
export function TaskTree(props: { projectId: string; taskId: string | null }) {
  const filter = (): TaskFilter => {
    const r = route();
    return r.name === 'project' ? (r.filter ?? 'all') : 'all';
  };
  const pending = createMemo(() => (tree.projectId === props.projectId ? attentionMap() : new Map()));
  const forest = createMemo(() => buildTree(chat.tasks));
  const shown = createMemo(() => filterTree(forest(), filter(), pending()));
  const ctx = () => ({ projectId: props.projectId, selected: props.taskId, filter: filter(), pending: pending() });

  return (
    <>
      <nav class="tree-filters" aria-label="Filter tasks">
        <For each={TASK_FILTERS}>
          {(f) => (
            <a
              href={hrefOf({ name: 'project', projectId: props.projectId, taskId: props.taskId, filter: f.id })}
              aria-current={filter() === f.id ? 'true' : undefined}
              data-filter={f.id}
            >
              {f.label}
              <Show when={f.id !== 'all' && chat.tasksLoaded}>
                {' '}
                <span class="count">{countMatching(forest(), f.id, pending())}</span>
              </Show>
            </a>
          )}
        </For>
      </nav>
      <ul class="task-list task-tree" aria-label="Tasks" data-filter={filter()}>
        <For each={shown()}>{(node) => <TaskTreeNode node={node} ctx={ctx()} />}</For>
      </ul>
      <Show when={chat.tasksLoaded && chat.tasks.length === 0}>
        <p class="muted">No tasks yet.</p>
      </Show>
      <Show when={chat.tasksLoaded && chat.tasks.length > 0 && shown().length === 0}>
        <p class="muted">No tasks match this filter.</p>
      </Show>
    </>
  );
}
