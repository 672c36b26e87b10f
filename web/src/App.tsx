import { Match, onMount, Show, Switch } from 'solid-js';
import { AuthScreen } from './components/AuthScreen.tsx';
import { lazyScreen } from './lib/lazy-screen.tsx';
import { OfflineNotice } from './components/OfflineNotice.tsx';
import { route } from './lib/route.ts';
import { session, signOut, startSession } from './stores/session.ts';

// Screens past sign-in load when first shown (bench/web-bundle-size.ts: the first load stays small).
const CredentialsSettings = lazyScreen(() =>
  import('./components/CredentialsSettings.tsx').then((m) => m.CredentialsSettings),
);
const NodesPage = lazyScreen(() => import('./components/NodesPage.tsx').then((m) => m.NodesPage));
const GitHubSettings = lazyScreen(() => import('./components/GitHubSettings.tsx').then((m) => m.GitHubSettings));
const ProjectChat = lazyScreen(() => import('./components/ProjectChat.tsx').then((m) => m.ProjectChat));
const ProfilesPage = lazyScreen(() => import('./components/ProfilesPage.tsx').then((m) => m.ProfilesPage));
const ProjectsScreen = lazyScreen(() => import('./components/ProjectsScreen.tsx').then((m) => m.ProjectsScreen));
const IdeasBoard = lazyScreen(() => import('./components/IdeasBoard.tsx').then((m) => m.IdeasBoard));
const Inbox = lazyScreen(() => import('./components/Inbox.tsx').then((m) => m.Inbox));

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

  const ideasRoute = () => {
    const r = route();
    return r.name === 'ideas' ? r : undefined;
  };

  const leave = async () => {
    // These stores load with their screens (not on the first load).
    const [chat, projects, profiles, github] = await Promise.all([
      import('./stores/chat.ts'),
      import('./stores/projects.ts'),
      import('./stores/profiles.ts'),
      import('./stores/github.ts'),
    ]);
    chat.closeProject();
    projects.resetProjects();
    profiles.resetProfiles();
    github.resetGitHub();
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
              <Inbox userId={user().id} />
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
              <Match when={ideasRoute()}>{(r) => <IdeasBoard projectId={r().projectId} ideaId={r().idea} />}</Match>
            </Switch>
          </Match>
        </Switch>
      </main>
    </div>
  );
}
