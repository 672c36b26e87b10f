import { createEffect, createSignal, For, on, Show } from 'solid-js';
import { isTerminal } from '../lib/steps.ts';
import type { Task } from '../lib/types.ts';
import { controls, loadStop, retry, stop } from '../stores/controls.ts';

/** The grace a stop can give the agent to commit and finish (seconds; 0 = at once). */
const GRACES: { seconds: number; label: string }[] = [
  { seconds: 0, label: 'now' },
  { seconds: 15, label: 'after 15 s' },
  { seconds: 30, label: 'after 30 s' },
  { seconds: 60, label: 'after 1 min' },
  { seconds: 300, label: 'after 5 min' },
];

const clock = (iso: string) => new Date(iso).toLocaleTimeString();

/** Stop (with a grace for the agent to commit) and retry (with a note), in the task's header. */
export function TaskControls(props: { task: Task }) {
  const [grace, setGrace] = createSignal(30);
  const [retrying, setRetrying] = createSignal(false);
  const [note, setNote] = createSignal('');

  createEffect(
    on(
      () => `${props.task.id}:${props.task.status}`,
      () => {
        setRetrying(false);
        void loadStop(props.task.id);
      },
    ),
  );

  const stopState = () => (controls.taskId === props.task.id ? controls.stop : null);
  const stopping = () => !isTerminal(props.task.status) && stopState()?.stopping && stopState()?.deadline;
  const canRetry = () => props.task.status === 'failed' || props.task.status === 'cancelled';

  const onRetry = async (e: SubmitEvent) => {
    e.preventDefault();
    if (await retry(props.task.projectId, props.task.id, note())) setNote('');
  };

  return (
    <div class="task-controls" aria-label="Task controls" role="group">
      <Show when={!isTerminal(props.task.status)}>
        <Show
          when={stopping()}
          fallback={
            <span class="choice">
              <label for="stop-grace">Stop</label>
              <select
                id="stop-grace"
                name="grace"
                value={String(grace())}
                onChange={(e) => setGrace(Number(e.currentTarget.value))}
              >
                <For each={GRACES}>{(g) => <option value={String(g.seconds)}>{g.label}</option>}</For>
              </select>
              <button
                type="button"
                data-testid="stop-task"
                disabled={controls.busy}
                onClick={() => void stop(props.task.id, grace())}
              >
                Stop task
              </button>
            </span>
          }
        >
          {(deadline) => (
            <p class="stopping" data-testid="task-stopping" role="status">
              Stopping: the agent has until {clock(deadline())} to commit its work, then the task is cancelled.{' '}
              <button type="button" disabled={controls.busy} onClick={() => void stop(props.task.id, 0)}>
                Stop now
              </button>
            </p>
          )}
        </Show>
      </Show>
      <Show when={canRetry()}>
        <Show
          when={retrying()}
          fallback={
            <button type="button" data-testid="retry-task" onClick={() => setRetrying(true)}>
              Retry…
            </button>
          }
        >
          <form class="retry-form" onSubmit={(e) => void onRetry(e)}>
            <label>
              Note for the new attempt (optional)
              <textarea
                name="note"
                rows={2}
                maxLength={4000}
                value={note()}
                onInput={(e) => setNote(e.currentTarget.value)}
              />
            </label>
            <button type="submit" class="primary" disabled={controls.busy}>
              Start new attempt
            </button>{' '}
            <button type="button" onClick={() => setRetrying(false)}>
              Cancel
            </button>
          </form>
        </Show>
      </Show>
      <Show when={controls.error}>
        <p class="error" role="alert">
          {controls.error}
        </p>
      </Show>
    </div>
  );
}
