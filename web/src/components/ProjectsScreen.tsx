import { createSignal, For, onMount, Show } from 'solid-js';
import { AGENT_TYPES, DEFAULT_LOCAL_AGENT } from '../../../functions/_shared/common/contracts/agents.ts';
import type { PickableRepository } from '../../../functions/_shared/common/contracts/github.ts';
import { navigate } from '../lib/route.ts';
import { attachRepository, github, loadInstallations } from '../stores/github.ts';
import { createProject, loadProjects, projects } from '../stores/projects.ts';
import { RepositoryPicker } from './RepositoryPicker.tsx';

export function ProjectsScreen(props: { pick?: { installationId: number; page: number } }) {
  /** The GitHub repository chosen in the picker (the project then stores its id). */
  const [picked, setPicked] = createSignal<{ installationId: number; repo: PickableRepository } | null>(null);
  const [name, setName] = createSignal('');
  const [repository, setRepository] = createSignal('');
  const [branch, setBranch] = createSignal('main');
  const [agent, setAgent] = createSignal<string>(DEFAULT_LOCAL_AGENT);
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal<string | null>(null);

  onMount(() => void Promise.all([loadProjects(), loadInstallations()]));

  const pick = (installationId: number, repo: PickableRepository) => {
    setPicked({ installationId, repo });
    setRepository(`${repo.htmlUrl}.git`);
    setBranch(repo.defaultBranch);
    if (!name().trim()) setName(repo.fullName.split('/')[1] ?? repo.fullName);
    navigate({ name: 'projects' });
  };

  const onSubmit = async (e: SubmitEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const project = await createProject({
        name: name().trim(),
        repository: repository().trim(),
        defaultBranch: branch().trim() || 'main',
        defaultAgentType: agent(),
      });
      const chosen = picked();
      if (chosen && repository().trim() === `${chosen.repo.htmlUrl}.git`) {
        await attachRepository(project.id, chosen.installationId, chosen.repo.id);
      }
      setPicked(null);
      setName('');
      setRepository('');
      navigate({ name: 'project', projectId: project.id, taskId: null });
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="projects">
      <section aria-labelledby="projects-title">
        <h1 id="projects-title">Projects</h1>
        <Show when={projects.error}>
          <p class="error" role="alert">
            {projects.error}
          </p>
        </Show>
        <Show
          when={projects.items.length > 0}
          fallback={<p class="muted">{projects.loaded ? 'No projects yet. Link a repository below.' : 'Loading…'}</p>}
        >
          <ul class="project-list">
            <For each={projects.items}>
              {(project) => (
                <li>
                  <a href={`#/p/${project.id}`}>
                    <strong>{project.name}</strong>
                    <span class="muted">
                      {project.repository} · {project.defaultBranch}
                    </span>
                  </a>
                </li>
              )}
            </For>
          </ul>
        </Show>
      </section>
      <section class="card" aria-labelledby="new-project-title">
        <h2 id="new-project-title">New project</h2>
        <Show when={github.installations.length > 0}>
          <div class="github-source">
            <For each={github.installations}>
              {(i) => (
                <button
                  type="button"
                  onClick={() => navigate({ name: 'projects', pick: { installationId: i.installationId, page: 1 } })}
                >
                  Choose a repository from {i.accountLogin}
                </button>
              )}
            </For>
            <Show when={props.pick}>
              {(p) => (
                <RepositoryPicker
                  installationId={p().installationId}
                  page={p().page}
                  onPick={(repo) => pick(p().installationId, repo)}
                />
              )}
            </Show>
            <Show when={picked()}>
              {(c) => (
                <p class="notice" role="status">
                  GitHub repository {c().repo.fullName} (installation {c().installationId})
                </p>
              )}
            </Show>
          </div>
        </Show>
        <form onSubmit={(e) => void onSubmit(e)}>
          <label>
            Name
            <input
              name="name"
              required
              maxLength={200}
              value={name()}
              onInput={(e) => setName(e.currentTarget.value)}
            />
          </label>
          <label>
            Git repository (a local path or a URL)
            <input
              name="repository"
              required
              maxLength={500}
              placeholder="/home/me/code/app or https://github.com/me/app.git"
              value={repository()}
              onInput={(e) => setRepository(e.currentTarget.value)}
            />
          </label>
          <label>
            Default branch
            <input
              name="defaultBranch"
              required
              maxLength={255}
              value={branch()}
              onInput={(e) => setBranch(e.currentTarget.value)}
            />
          </label>
          <label>
            Agent
            <select name="defaultAgentType" value={agent()} onChange={(e) => setAgent(e.currentTarget.value)}>
              <For each={AGENT_TYPES}>{(a) => <option value={a.id}>{a.label}</option>}</For>
            </select>
          </label>
          <Show when={error()}>
            <p class="error" role="alert">
              {error()}
            </p>
          </Show>
          <button type="submit" class="primary" disabled={busy()}>
            Create project
          </button>
        </form>
      </section>
    </div>
  );
}
