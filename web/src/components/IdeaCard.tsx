import { For, Show } from 'solid-js';
import { canExecute, movesFrom, STAGE_LABELS, type IdeaStage } from '../lib/ideas.ts';
import { hrefOf } from '../lib/route.ts';
import { taskProgress } from '../lib/steps.ts';
import type { Idea } from '../lib/supabase/index.ts';

/**
 * One idea on the board: its title (opens the editor), priority, who recorded it, and once it ran
 * its task's progress with a link to the task's chat. Moves are buttons (keyboard and screen
 * readers) and drag and drop.
 */
export function IdeaCard(props: {
  idea: Idea;
  projectId: string;
  busy: boolean;
  onMove(stage: IdeaStage): void;
  onDrag(id: string | null): void;
}) {
  const moves = () => movesFrom(props.idea);
  const movable = () => moves().length > 0 || canExecute(props.idea);
  const ran = () => props.idea.sessionId !== null;

  return (
    <li
      class="idea-card"
      data-idea-id={props.idea.id}
      data-stage={props.idea.stage}
      draggable={movable() && !props.busy}
      onDragStart={(e) => {
        e.dataTransfer?.setData('text/plain', props.idea.id);
        if (e.dataTransfer) e.dataTransfer.effectAllowed = 'move';
        props.onDrag(props.idea.id);
      }}
      onDragEnd={() => props.onDrag(null)}
    >
      <a class="idea-title" href={hrefOf({ name: 'ideas', projectId: props.projectId, idea: props.idea.id })}>
        {props.idea.title}
      </a>
      <p class="idea-meta">
        <span class="badge" title="Priority (0–100)" data-testid="idea-priority">
          Priority {props.idea.priority}
        </span>
        <Show when={props.idea.byAgent}>
          <span class="badge" data-testid="idea-by-agent">
            From an agent
          </span>
        </Show>
      </p>
      <Show when={ran()}>
        <p class="idea-task">
          <span class={`badge status-${props.idea.status}`} data-testid="idea-progress">
            {taskProgress(props.idea)}
          </span>{' '}
          <a href={hrefOf({ name: 'project', projectId: props.projectId, taskId: props.idea.id })}>Open task</a>
        </p>
      </Show>
      <Show when={props.idea.stage === 'parked' && props.idea.errorMessage}>
        <p class="error idea-error">{props.idea.errorMessage}</p>
      </Show>
      <Show when={movable()}>
        <div class="idea-actions" role="group" aria-label={`Move ${props.idea.title}`}>
          <Show when={canExecute(props.idea)}>
            <button type="button" class="primary" disabled={props.busy} onClick={() => props.onMove('executing')}>
              Execute
            </button>
          </Show>
          <For each={moves()}>
            {(stage) => (
              <button type="button" disabled={props.busy} onClick={() => props.onMove(stage)}>
                Move to {STAGE_LABELS[stage]}
              </button>
            )}
          </For>
        </div>
      </Show>
    </li>
  );
}
