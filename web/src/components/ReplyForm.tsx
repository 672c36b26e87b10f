import { createSignal, Show } from 'solid-js';
import { reply } from '../stores/chat.ts';

/** A follow-up into the open task's chat while it runs. */
export function ReplyForm(props: { sessionId: string }) {
  const [text, setText] = createSignal('');
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal<string | null>(null);

  const onSubmit = async (e: SubmitEvent) => {
    e.preventDefault();
    const content = text().trim();
    if (!content) return;
    setBusy(true);
    setError(null);
    try {
      await reply(props.sessionId, content);
      setText('');
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="reply" onSubmit={(e) => void onSubmit(e)}>
      <label>
        Reply to the agent
        <input
          name="reply"
          maxLength={16000}
          autocomplete="off"
          value={text()}
          onInput={(e) => setText(e.currentTarget.value)}
        />
      </label>
      <Show when={error()}>
        <p class="error" role="alert">
          {error()}
        </p>
      </Show>
      <button type="submit" disabled={busy() || !text().trim()}>
        Send
      </button>
    </form>
  );
}
