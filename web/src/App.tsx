import { Match, onMount, Show, Switch } from 'solid-js';
import { AuthScreen } from './components/AuthScreen.tsx';
import { CredentialsSettings } from './components/CredentialsSettings.tsx';
import { NodesPage } from './components/NodesPage.tsx';
import { OfflineNotice } from './components/OfflineNotice.tsx';
import { GitHubSettings } from './components/GitHubSettings.tsx';
import { ProjectChat } from './components/ProjectChat.tsx';
import { ProfilesPage } from './components/ProfilesPage.tsx';
import { ProjectsScreen } from './components/ProjectsScreen.tsx';
import { route } from './lib/route.ts';
import { session, signOut, startSession } from './stores/session.ts';
import { resetProjects } from './stores/projects.ts';
import { closeProject } from './stores/chat.ts';
import { resetProfiles } from './stores/profiles.ts';
import { resetGitHub } from './stores/github.ts';

export function App() {
  onMount(() => void startSession());

  const projectRoute = () => {
    const r = route();
    return r.name === 'project' ? r : undefined;
  };
  const projectsRoute = () => {
    const r = route();
    return r.name === 'projects' ? r : undefined;
  };
  const profilesRoute = () => {
    const r = route();
    return r.name === 'profiles' ? r : undefined;
  };

  const leave = async () => {
    closeProject();
    resetProjects();
    resetProfiles();
    resetGitHub();
    await signOut();
  };

  return (
    <div class="app">
      <header class="topbar">
        <a class="brand" href="#/">
          SAM
        </a>
        <Show when={session.user()}>
          {(user) => (
            <div class="account">
              <a href="#/nodes">Machines</a>
              <a href="#/settings">Settings</a>
              <span class="muted">{user().email}</span>
              <button type="button" class="link" onClick={() => void leave()}>
                Sign out
              </button>
            </div>
          )}
        </Show>
      </header>
      <OfflineNotice />
      <main class="content">
        <Switch>
          <Match when={session.state() === 'loading'}>
            <p class="muted" role="status">
              Loading…
            </p>
          </Match>
          <Match when={session.state() === 'failed'}>
            <p class="error" role="alert">
              {session.startupError()}
            </p>
          </Match>
          <Match when={session.state() === 'signed-out'}>
            <AuthScreen />
          </Match>
          <Match when={session.state() === 'signed-in'}>
            <Switch>
              <Match when={projectsRoute()}>{(r) => <ProjectsScreen pick={r().pick} />}</Match>
              <Match when={route().name === 'settings'}>
                <CredentialsSettings />
                <GitHubSettings />
              </Match>
              <Match when={route().name === 'nodes'}>
                <NodesPage />
              </Match>
              <Match when={projectRoute()}>
                {(r) => <ProjectChat projectId={r().projectId} taskId={r().taskId} />}
              </Match>
              <Match when={profilesRoute()}>{(r) => <ProfilesPage projectId={r().projectId} edit={r().edit} />}</Match>
            </Switch>
          </Match>
        </Switch>
      </main>
    </div>
  );
}
