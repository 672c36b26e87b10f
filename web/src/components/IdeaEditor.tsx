import { createEffect, createMemo, createSignal, on, Show } from 'solid-js';
import { canEdit, STAGE_LABELS } from '../lib/ideas.ts';
import { hrefOf } from '../lib/route.ts';
import { ideaById, ideas, saveIdea } from '../stores/ideas.ts';

/**
 * The open idea (`?idea=<id>` in the board's URL): title, details and priority, editable while the
 * idea has not run. Escape or "Close" goes back to the board.
 */
export function IdeaEditor(props: { projectId: string; ideaId: string; onClose(): void }) {
  const [title, setTitle] = createSignal('');
  const [content, setContent] = createSignal('');
  const [priority, setPriority] = createSignal(0);
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal<string | null>(null);
  const [saved, setSaved] = createSignal(false);
  const idea = () => ideaById(props.ideaId);

  // The fields start from the idea when it opens (or first arrives), not on every live update.
  const opened = createMemo(() => (idea() ? props.ideaId : null));
  createEffect(
    on(opened, (id) => {
      const i = id ? ideaById(id) : undefined;
      if (!i) return;
      setTitle(i.title);
      setContent(i.content);
      setPriority(i.priority);
      setSaved(false);
      setError(null);
    }),
  );

  const onSave = async (e: SubmitEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      await saveIdea(props.ideaId, { title: title().trim(), content: content(), priority: priority() });
      setSaved(true);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section
      class="idea-editor card"
      role="dialog"
      aria-labelledby="idea-editor-title"
      onKeyDown={(e) => {
        if (e.key === 'Escape') props.onClose();
      }}
    >
      <h2 id="idea-editor-title">Idea</h2>
      <Show
        when={idea()}
        fallback={<p class="muted">{ideas.loaded ? 'This idea is not on the board.' : 'Loading…'}</p>}
      >
        {(i) => (
          <form onSubmit={(e) => void onSave(e)}>
            <p class="muted" data-testid="idea-stage">
              {STAGE_LABELS[i().stage]}
              <Show when={i().sessionId}>
                {' · '}
                <a href={hrefOf({ name: 'project', projectId: props.projectId, taskId: i().id })}>Open task</a>
              </Show>
            </p>
            <fieldset disabled={!canEdit(i()) || busy()}>
              <label>
                Title
                <input
                  name="title"
                  required
                  maxLength={200}
                  value={title()}
                  onInput={(e) => setTitle(e.currentTarget.value)}
                />
              </label>
              <label>
                Details
                <textarea
                  name="content"
                  rows={6}
                  maxLength={32000}
                  value={content()}
                  onInput={(e) => setContent(e.currentTarget.value)}
                />
              </label>
              <label>
                Priority
                <input
                  name="priority"
                  type="number"
                  min={0}
                  max={100}
                  value={priority()}
                  onInput={(e) => setPriority(Number(e.currentTarget.value) || 0)}
                />
              </label>
            </fieldset>
            <Show when={!canEdit(i())}>
              <p class="muted">This idea has run as a task; it is no longer edited here.</p>
            </Show>
            <Show when={error()}>
              <p class="error" role="alert">
                {error()}
              </p>
            </Show>
            <Show when={saved()}>
              <p class="notice" role="status">
                Saved.
              </p>
            </Show>
            <div class="idea-editor-actions">
              <Show when={canEdit(i())}>
                <button type="submit" class="primary" disabled={busy() || !title().trim()}>
                  Save idea
                </button>
              </Show>
              <button type="button" onClick={() => props.onClose()}>
                Close
              </button>
            </div>
          </form>
        )}
      </Show>
    </section>
  );
}
