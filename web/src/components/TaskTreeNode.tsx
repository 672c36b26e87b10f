import { For, Show } from 'solid-js';
import { hrefOf } from '../lib/route.ts';
import { taskProgress } from '../lib/steps.ts';
import { ATTENTION_LABELS, attentionOf, type AttentionMap, type TaskFilter, type TreeNode } from '../lib/task-tree.ts';
import type { Task } from '../lib/types.ts';

const KIND_LABELS = { root: '', 'sub-task': 'Sub-task', retry: 'Retry', fork: 'Fork' } as const;

export interface TreeContext {
  projectId: string;
  selected: string | null;
  filter: TaskFilter;
  pending: AttentionMap;
}

/** One task of the tree: a link that opens it, its live status and step, then its attempts and sub-tasks. */
export function TaskTreeNode(props: { node: TreeNode<Task>; ctx: TreeContext }) {
  const task = () => props.node.task;
  const needs = () => attentionOf(task(), props.ctx.pending);
  const href = () =>
    hrefOf({ name: 'project', projectId: props.ctx.projectId, taskId: task().id, filter: props.ctx.filter });
  return (
    <li
      class="tree-node"
      classList={{ context: props.node.context }}
      data-task-id={task().id}
      data-kind={props.node.kind}
      data-status={task().status}
    >
      <a
        href={href()}
        aria-current={task().id === props.ctx.selected ? 'page' : undefined}
        data-task-id={task().id}
        data-testid="tree-task"
      >
        <span class="task-title">
          <Show
            when={props.node.attempt > 1}
            fallback={
              <Show when={KIND_LABELS[props.node.kind]}>{(kind) => <span class="tree-kind">{kind()}: </span>}</Show>
            }
          >
            <span class="tree-kind">Attempt {props.node.attempt}: </span>
          </Show>
          {task().title}
        </span>
        <span class={`badge status-${task().status}`} data-testid="tree-status">
          {taskProgress(task())}
        </span>
        <Show when={needs().length > 0}>
          <span class="badge needs-me" data-testid="tree-needs">
            {needs()
              .map((a) => ATTENTION_LABELS[a])
              .join(' · ')}
          </span>
        </Show>
      </a>
      <Show when={props.node.attempts.length > 0}>
        <ol class="tree-attempts" aria-label={`Attempts of ${task().title}`}>
          <For each={props.node.attempts}>{(n) => <TaskTreeNode node={n} ctx={props.ctx} />}</For>
        </ol>
      </Show>
      <Show when={props.node.children.length > 0}>
        <ul class="tree-children" aria-label={`Under ${task().title}`}>
          <For each={props.node.children}>{(n) => <TaskTreeNode node={n} ctx={props.ctx} />}</For>
        </ul>
      </Show>
    </li>
  );
}
