import { createEffect, createMemo, createSignal, For, on, onCleanup, Show } from 'solid-js';
import { AGENT_TYPES } from '../../../functions/_shared/common/contracts/agents.ts';
import { hrefOf, navigate } from '../lib/route.ts';
import { chat, closeProject, openProject, submit } from '../stores/chat.ts';
import { loadProfiles, profileById, profiles } from '../stores/profiles.ts';
import { loadMachineDefaults, machines } from '../stores/machines.ts';
import { loadProjects, projectById, projects } from '../stores/projects.ts';
import { ExecutionOptions, NO_EXECUTION_PICK, type ExecutionPick } from './ExecutionOptions.tsx';
import { MachineChoice, NO_PICK, type MachinePick } from './MachineChoice.tsx';
import { ProjectMachineSettings } from './ProjectMachineSettings.tsx';
import { TaskTree } from './TaskTree.tsx';
import { ProjectBudgetSettings } from './ProjectBudgetSettings.tsx';
import { TaskView } from './TaskView.tsx';
import { VoiceInput } from './VoiceInput.tsx';

export function ProjectChat(props: { projectId: string; taskId: string | null }) {
  const [draft, setDraft] = createSignal('');
  /** The agent for the next task; empty = the project's default. */
  const [agent, setAgent] = createSignal('');
  /** The profile picked for the next task: a profile's id, '' for none; null until the user picks (then the default). */
  const [picked, setPicked] = createSignal<string | null>(null);
  /** Where the next task's machine runs; '' fields: the profile's or the project's defaults. */
  const [machine, setMachine] = createSignal<MachinePick>(NO_PICK);
  /** Task mode and node for the next task; '' fields: defaults, SAM places it. */
  const [execution, setExecution] = createSignal<ExecutionPick>(NO_EXECUTION_PICK);
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal<string | null>(null);
  /** On a phone the task list is folded behind a "Tasks" toggle (styles.css); following a link in it folds it again. */
  const [tasksOpen, setTasksOpen] = createSignal(false);
  const foldOnLink = (e: MouseEvent) => {
    if ((e.target as Element | null)?.closest?.('#project-tasks a')) setTasksOpen(false);
  };

  // A memo: the route hands new props on every URL change (a selected task, an opened panel); only
  // another project resets the composer's picks and reads the project's profiles and defaults again.
  const projectId = createMemo(() => props.projectId);
  createEffect(() => openProject(projectId()));
  createEffect(
    on(projectId, (projectId) => {
      setPicked(null);
      setMachine(NO_PICK);
      setExecution(NO_EXECUTION_PICK);
      void loadProfiles(projectId);
      void loadMachineDefaults(projectId);
    }),
  );
  createEffect(() => {
    if (!projects.loaded) void loadProjects();
  });
  onCleanup(closeProject);

  const project = () => projectById(props.projectId);
  const projectProfiles = () => (profiles.projectId === props.projectId ? profiles.items : []);
  /** What the picker shows and the task gets: the user's pick, else the project's default profile, else none. */
  const profileChoice = () => {
    const known = (id: string) => id === '' || projectProfiles().some((p) => p.id === id);
    const pick = picked();
    if (pick !== null && known(pick)) return pick;
    const fallback = project()?.defaultAgentProfileId ?? '';
    return known(fallback) ? fallback : '';
  };
  const profilesReady = () => profiles.projectId === props.projectId && profiles.loaded && !profiles.error;
  /** Sent as submit_task's `profile`: the choice shown; before the list is read, nothing (the server applies the default). */
  const profileToSend = () => (profilesReady() || picked() !== null ? profileChoice() || null : undefined);
  const agentLabel = (id: string | undefined) => AGENT_TYPES.find((a) => a.id === id)?.label ?? '…';
  const defaultAgentOption = () => {
    const profile = profileChoice() ? profileById(profileChoice()) : undefined;
    return profile
      ? `Profile's agent (${agentLabel(profile.agentType)})`
      : `Project default (${agentLabel(project()?.defaultAgentType)})`;
  };

  const onSubmit = async (e: SubmitEvent) => {
    e.preventDefault();
    const message = draft().trim();
    if (!message) return;
    setBusy(true);
    setError(null);
    try {
      const taskId = await submit(props.projectId, message, {
        agentType: agent() || undefined,
        profile: profileToSend(),
        provider: machine().provider || undefined,
        vmSize: machine().vmSize || undefined,
        location: machine().location || undefined,
        taskMode: execution().taskMode || undefined,
        nodeId: execution().nodeId || undefined,
      });
      setExecution((e) => ({ ...e, nodeId: '' }));
      setDraft('');
      navigate({ name: 'project', projectId: props.projectId, taskId });
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Enter' && (e.metaKey || e.ctrlKey)) {
      (e.currentTarget as HTMLTextAreaElement).form?.requestSubmit();
    }
  };

  return (
    <div class="project-chat" data-tasks-open={tasksOpen() ? 'true' : undefined} onClick={foldOnLink}>
      <button
        type="button"
        class="tasks-toggle"
        aria-expanded={tasksOpen()}
        aria-controls="project-tasks"
        onClick={() => setTasksOpen(!tasksOpen())}
      >
        {tasksOpen() ? 'Hide tasks' : 'Tasks'}
      </button>
      <aside class="tasks" id="project-tasks" aria-labelledby="tasks-title">
        <p>
          <a href="#/">← Projects</a>
        </p>
        <h1 id="tasks-title">{project()?.name ?? 'Project'}</h1>
        <Show when={project()}>{(p) => <p class="muted repo">{p().repository}</p>}</Show>
        <p>
          <a href={hrefOf({ name: 'profiles', projectId: props.projectId, edit: null })}>Agent profiles</a>
          {' · '}
          <a href={hrefOf({ name: 'ideas', projectId: props.projectId, idea: null })}>Ideas board</a>
        </p>
        <ProjectMachineSettings projectId={props.projectId} />
        <ProjectBudgetSettings projectId={props.projectId} />
        <h2 class="sr-only">Tasks</h2>
        <TaskTree projectId={props.projectId} taskId={props.taskId} />
      </aside>
      <section class="main-pane">
        <Show when={chat.error}>
          <p class="error" role="alert">
            {chat.error}
          </p>
        </Show>
        <Show when={props.taskId} fallback={<p class="muted hint">Describe what the agent should do.</p>}>
          {(taskId) => <TaskView taskId={taskId()} />}
        </Show>
        <form class="composer" onSubmit={(e) => void onSubmit(e)}>
          <label for="composer-input" class="sr-only">
            Message
          </label>
          <textarea
            id="composer-input"
            name="message"
            rows={3}
            maxLength={16000}
            placeholder="Describe the work, e.g. “add rate limiting to the upload endpoint”"
            value={draft()}
            onInput={(e) => setDraft(e.currentTarget.value)}
            onKeyDown={onKeyDown}
          />
          <VoiceInput onTranscript={(t) => setDraft((d) => (d.trim() ? `${d.trimEnd()} ${t}` : t))} disabled={busy()} />
          <Show when={error()}>
            <p class="error" role="alert">
              {error()}
            </p>
          </Show>
          <div class="composer-actions">
            <span class="choice">
              <label for="composer-profile">Profile</label>
              <select id="composer-profile" name="profile" onChange={(e) => setPicked(e.currentTarget.value)}>
                <option value="" selected={profileChoice() === ''}>
                  No profile
                </option>
                <For each={projectProfiles()}>
                  {(p) => (
                    <option value={p.id} selected={profileChoice() === p.id}>
                      {p.name}
                      {p.id === project()?.defaultAgentProfileId ? ' (default)' : ''}
                    </option>
                  )}
                </For>
              </select>
            </span>
            <span class="choice">
              <label for="composer-agent">Agent</label>
              <select
                id="composer-agent"
                name="agentType"
                value={agent()}
                onChange={(e) => setAgent(e.currentTarget.value)}
              >
                <option value="">{defaultAgentOption()}</option>
                <For each={AGENT_TYPES}>{(a) => <option value={a.id}>{a.label}</option>}</For>
              </select>
            </span>
            <MachineChoice
              value={machine()}
              onChange={setMachine}
              defaults={machines.projectId === props.projectId ? machines.defaults : null}
            />
            <ExecutionOptions value={execution()} onChange={setExecution} />
            <button type="submit" class="primary" disabled={busy() || !draft().trim()}>
              Start task
            </button>
          </div>
        </form>
      </section>
    </div>
  );
}
