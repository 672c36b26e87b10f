import { createEffect, createSignal, For, onCleanup, Show } from 'solid-js';
import { canExecute, IDEA_STAGES, movesFrom, STAGE_LABELS, type IdeaStage } from '../lib/ideas.ts';
import { hrefOf, navigate } from '../lib/route.ts';
import { closeBoard, createIdea, ideaById, ideas, moveIdea, openBoard } from '../stores/ideas.ts';
import { loadProjects, projectById, projects } from '../stores/projects.ts';
import { IdeaCard } from './IdeaCard.tsx';
import { IdeaEditor } from './IdeaEditor.tsx';
import './IdeasBoard.css';

/**
 * `#/p/<projectId>/ideas`: the project's ideas in five columns (Exploring, Ready, Executing, Done,
 * Parked), live; new ideas, moves (buttons or drag and drop), "Execute" runs one as a task.
 * `?idea=<id>` opens an idea's editor.
 */
export function IdeasBoard(props: { projectId: string; ideaId: string | null }) {
  const [title, setTitle] = createSignal('');
  const [content, setContent] = createSignal('');
  const [priority, setPriority] = createSignal(0);
  const [busy, setBusy] = createSignal(false);
  const [dragged, setDragged] = createSignal<string | null>(null);

  createEffect(() => openBoard(props.projectId));
  onCleanup(closeBoard);
  createEffect(() => {
    if (!projects.loaded) void loadProjects();
  });

  const project = () => projectById(props.projectId);
  const inStage = (stage: IdeaStage) => ideas.items.filter((i) => i.stage === stage);
  const closeEditor = () => navigate({ name: 'ideas', projectId: props.projectId, idea: null });

  const run = async (work: () => Promise<unknown>) => {
    setBusy(true);
    try {
      await work();
    } catch {
      // shown as ideas.error
    } finally {
      setBusy(false);
    }
  };

  const onCreate = (e: SubmitEvent) => {
    e.preventDefault();
    const fields = { title: title().trim(), content: content(), priority: priority() };
    const projectId = props.projectId;
    if (!fields.title) return;
    void run(async () => {
      await createIdea(projectId, fields);
      setTitle('');
      setContent('');
      setPriority(0);
    });
  };

  /** Whether the dragged card may be dropped on `stage`. */
  const accepts = (stage: IdeaStage) => {
    const idea = dragged() ? ideaById(dragged()!) : undefined;
    if (!idea || idea.stage === stage) return false;
    return stage === 'executing' ? canExecute(idea) : movesFrom(idea).includes(stage);
  };

  return (
    <div class="ideas-board">
      <p>
        <a href={hrefOf({ name: 'project', projectId: props.projectId, taskId: null })}>
          ← {project()?.name ?? 'Project'}
        </a>
      </p>
      <h1>Ideas</h1>
      <form class="new-idea card" aria-label="New idea" onSubmit={onCreate}>
        <label>
          Idea title
          <input
            required
            maxLength={200}
            value={title()}
            onInput={(e) => setTitle(e.currentTarget.value)}
            placeholder="e.g. Cache thumbnails at the edge"
          />
        </label>
        <label>
          Idea details
          <textarea rows={2} maxLength={32000} value={content()} onInput={(e) => setContent(e.currentTarget.value)} />
        </label>
        <label>
          Idea priority
          <input
            type="number"
            min={0}
            max={100}
            value={priority()}
            onInput={(e) => setPriority(Number(e.currentTarget.value) || 0)}
          />
        </label>
        <button type="submit" class="primary" disabled={busy() || !title().trim()}>
          Add idea
        </button>
      </form>
      <Show when={ideas.error}>
        <p class="error" role="alert">
          {ideas.error}
        </p>
      </Show>
      <Show when={props.ideaId}>
        {(id) => <IdeaEditor projectId={props.projectId} ideaId={id()} onClose={closeEditor} />}
      </Show>
      <Show when={ideas.loaded} fallback={<p class="muted">Loading…</p>}>
        <div class="idea-columns">
          <For each={IDEA_STAGES}>
            {(stage) => (
              <section
                class="idea-column"
                classList={{ 'drop-ok': accepts(stage) }}
                data-stage={stage}
                aria-labelledby={`idea-column-${stage}`}
                onDragOver={(e) => {
                  if (!accepts(stage)) return;
                  e.preventDefault();
                  if (e.dataTransfer) e.dataTransfer.dropEffect = 'move';
                }}
                onDrop={(e) => {
                  e.preventDefault();
                  const id = dragged() ?? e.dataTransfer?.getData('text/plain');
                  const ok = accepts(stage);
                  setDragged(null);
                  if (id && ok) void run(() => moveIdea(id, stage));
                }}
              >
                <h2 id={`idea-column-${stage}`}>
                  {STAGE_LABELS[stage]} <span class="muted">{inStage(stage).length}</span>
                </h2>
                <ul class="idea-list" aria-label={STAGE_LABELS[stage]}>
                  <For each={inStage(stage)}>
                    {(idea) => (
                      <IdeaCard
                        idea={idea}
                        projectId={props.projectId}
                        busy={busy()}
                        onMove={(to) => void run(() => moveIdea(idea.id, to))}
                        onDrag={setDragged}
                      />
                    )}
                  </For>
                </ul>
              </section>
            )}
          </For>
        </div>
      </Show>
    </div>
  );
}
