import { createEffect, createMemo, createSignal, For, Match, on, Show, Switch } from 'solid-js';
import { AGENT_TYPES } from '../../../functions/_shared/common/contracts/agents.ts';
import { draftOf, emptyDraft } from '../lib/profile-form.ts';
import { hrefOf, navigate } from '../lib/route.ts';
import type { AgentProfile, AgentProfileInput } from '../lib/types.ts';
import { loadProfiles, makeDefault, profileById, profiles, removeProfile, saveProfile } from '../stores/profiles.ts';
import { loadProjects, projectById, projects } from '../stores/projects.ts';
import { ProfileForm } from './ProfileForm.tsx';

const agentLabel = (id: string) => AGENT_TYPES.find((a) => a.id === id)?.label ?? id;

/**
 * A project's agent profiles: list, create, edit (`?edit=<id|new>` keeps the open form in the
 * URL), delete, and choose the default that tasks run with when the composer names none.
 */
export function ProfilesPage(props: { projectId: string; edit: string | null }) {
  const [error, setError] = createSignal<string | null>(null);
  const [busy, setBusy] = createSignal(false);
  const [confirming, setConfirming] = createSignal<string | null>(null);

  // A memo: opening or closing the editor is a new route (new props); only another project reads again.
  const projectId = createMemo(() => props.projectId);
  createEffect(on(projectId, (id) => void loadProfiles(id)));
  createEffect(() => {
    if (!projects.loaded) void loadProjects();
  });

  const project = () => projectById(props.projectId);
  const isDefault = (p: AgentProfile) => project()?.defaultAgentProfileId === p.id;
  const list = () => hrefOf({ name: 'profiles', projectId: props.projectId, edit: null });
  const close = () => navigate({ name: 'profiles', projectId: props.projectId, edit: null });

  const saveAndClose = async (id: string | null, input: AgentProfileInput) => {
    await saveProfile(props.projectId, id, input);
    close();
  };

  const act = async (work: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  const editing = () => (props.edit && props.edit !== 'new' ? profileById(props.edit) : undefined);

  return (
    <div class="profiles">
      <p>
        <a href={hrefOf({ name: 'project', projectId: props.projectId, taskId: null })}>
          ← {project()?.name ?? 'Project'}
        </a>
      </p>
      <h1>Agent profiles</h1>
      <p class="muted">
        A profile is a named way of running an agent in this project: which agent and model, what it may do, and its
        budgets. Pick one in the composer; the default applies when you pick none.
      </p>
      <Show when={profiles.error}>
        <p class="error" role="alert">
          {profiles.error}
        </p>
      </Show>
      <Show when={error()}>
        <p class="error" role="alert">
          {error()}
        </p>
      </Show>

      <Switch>
        <Match when={props.edit === 'new'}>
          <ProfileForm
            title="New profile"
            initial={emptyDraft(project()?.defaultAgentType ?? 'demo')}
            onSave={(input) => saveAndClose(null, input)}
            onCancel={close}
          />
        </Match>
        <Match when={editing()} keyed>
          {(p) => (
            <ProfileForm
              title={`Edit “${p.name}”`}
              initial={draftOf(p)}
              onSave={(input) => saveAndClose(p.id, input)}
              onCancel={close}
            />
          )}
        </Match>
        <Match when={props.edit && profiles.loaded && profiles.projectId === props.projectId}>
          <p class="error" role="alert">
            There is no such profile in this project. <a href={list()}>Back to the list</a>
          </p>
        </Match>
      </Switch>

      <section aria-labelledby="profile-list-title">
        <h2 id="profile-list-title" class="sr-only">
          Profiles
        </h2>
        <Show when={profiles.loaded && profiles.items.length === 0}>
          <p class="muted">No profiles yet: tasks run with the project's agent.</p>
        </Show>
        <ul class="profile-list" aria-label="Profiles">
          <For each={profiles.items}>
            {(p) => (
              <li class="profile" data-profile-id={p.id} data-default={isDefault(p) ? 'true' : undefined}>
                <div class="profile-head">
                  <strong>{p.name}</strong>
                  <Show when={isDefault(p)}>
                    <span class="badge">Default</span>
                  </Show>
                </div>
                <p class="muted">
                  {agentLabel(p.agentType)}
                  <Show when={p.model}> · {p.model}</Show> · permissions: {p.permissionMode}
                  <Show when={p.taskMode}> · {p.taskMode}</Show>
                  <Show when={p.description}> — {p.description}</Show>
                </p>
                <div class="actions">
                  <a
                    href={hrefOf({ name: 'profiles', projectId: props.projectId, edit: p.id })}
                    aria-label={`Edit ${p.name}`}
                  >
                    Edit
                  </a>
                  <Show
                    when={isDefault(p)}
                    fallback={
                      <button
                        type="button"
                        disabled={busy()}
                        aria-label={`Make ${p.name} the default`}
                        onClick={() => void act(() => makeDefault(props.projectId, p.id))}
                      >
                        Make default
                      </button>
                    }
                  >
                    <button
                      type="button"
                      disabled={busy()}
                      aria-label={`Stop using ${p.name} as the default`}
                      onClick={() => void act(() => makeDefault(props.projectId, null))}
                    >
                      Clear default
                    </button>
                  </Show>
                  <Show
                    when={confirming() === p.id}
                    fallback={
                      <button
                        type="button"
                        class="link"
                        disabled={busy()}
                        aria-label={`Delete ${p.name}`}
                        onClick={() => setConfirming(p.id)}
                      >
                        Delete
                      </button>
                    }
                  >
                    <span>Delete “{p.name}”? Tasks that ran with it keep their record.</span>
                    <button
                      type="button"
                      class="danger"
                      disabled={busy()}
                      onClick={() =>
                        void act(async () => {
                          setConfirming(null);
                          await removeProfile(props.projectId, p.id, isDefault(p));
                          if (props.edit === p.id) close();
                        })
                      }
                    >
                      Yes, delete
                    </button>
                    <button type="button" class="link" onClick={() => setConfirming(null)}>
                      Keep it
                    </button>
                  </Show>
                </div>
              </li>
            )}
          </For>
        </ul>
        <Show when={props.edit !== 'new'}>
          <a class="button" href={hrefOf({ name: 'profiles', projectId: props.projectId, edit: 'new' })}>
            New profile
          </a>
        </Show>
      </section>
    </div>
  );
}
