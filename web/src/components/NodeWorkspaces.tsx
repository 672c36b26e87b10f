import { For, Show } from 'solid-js';
import { hrefOf } from '../lib/route.ts';
import { STATUS_LABELS } from '../lib/steps.ts';
import type { NodeRow } from '../lib/supabase/index.ts';
import type { TaskStatus } from '../lib/types.ts';

const taskLabel = (status: string) => STATUS_LABELS[status as TaskStatus] ?? status;

/** A node's workspaces cell: how many are live, then each (live first, the latest ended after) with its task. */
export function NodeWorkspaces(props: { node: NodeRow }) {
  return (
    <>
      <span data-testid="node-workspace-count">{props.node.workspaces}</span>
      <Show when={props.node.workspaceList.length > 0}>
        <ul class="node-workspaces" aria-label={`Workspaces on ${props.node.name}`}>
          <For each={props.node.workspaceList}>
            {(w) => (
              <li data-workspace-id={w.id} data-testid="node-workspace">
                <span class="muted">workspace {w.status}</span>
                <Show when={w.task}>
                  {(t) => (
                    <>
                      {' · '}
                      <a href={hrefOf({ name: 'project', projectId: w.projectId, taskId: t().id })}>{t().title}</a>{' '}
                      <span class={`badge status-${t().status}`}>{taskLabel(t().status)}</span>
                    </>
                  )}
                </Show>
              </li>
            )}
          </For>
        </ul>
      </Show>
    </>
  );
}
