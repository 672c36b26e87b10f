import { createSignal, Show } from 'solid-js';
import { route, setProjectView } from '../lib/route.ts';
import { chat } from '../stores/chat.ts';
import { controls, fork } from '../stores/controls.ts';

/**
 * "Fork" on a message of the conversation: a small form for the new message; the fork carries the
 * conversation up to and including this message, then opens (its URL replaces this task's).
 */
export function ForkAction(props: { messageId: number }) {
  // Open while the URL names this message (`fork=<id>`), so a copied link opens the same form.
  const open = () => {
    const r = route();
    return r.name === 'project' && r.fork === props.messageId;
  };
  const setOpen = (on: boolean) => setProjectView({ fork: on ? props.messageId : null });
  const [text, setText] = createSignal('');

  const onSubmit = async (e: SubmitEvent) => {
    e.preventDefault();
    const message = text().trim();
    const projectId = chat.projectId;
    const taskId = chat.taskId;
    if (!message || !projectId || !taskId) return;
    if (await fork(projectId, taskId, message, props.messageId)) {
      setText('');
      setOpen(false);
    }
  };

  return (
    <Show
      when={open()}
      fallback={
        <button
          type="button"
          class="fork-action link"
          data-testid="fork-message"
          title="Start a new task from this point of the conversation"
          onClick={() => setOpen(true)}
        >
          Fork
        </button>
      }
    >
      <form class="fork-form" aria-label="Fork from this message" onSubmit={(e) => void onSubmit(e)}>
        <label>
          New message from this point
          <textarea
            name="fork-message"
            rows={2}
            maxLength={16000}
            value={text()}
            onInput={(e) => setText(e.currentTarget.value)}
          />
        </label>
        <button type="submit" class="primary" disabled={controls.busy || !text().trim()}>
          Fork
        </button>{' '}
        <button type="button" onClick={() => setOpen(false)}>
          Cancel
        </button>
        <Show when={controls.error}>
          <p class="error" role="alert">
            {controls.error}
          </p>
        </Show>
      </form>
    </Show>
  );
}
