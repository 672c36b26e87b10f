import { createResource, For, onMount, Show } from 'solid-js';
import {
  github,
  githubSignInEnabled,
  hasGitHubToken,
  installGitHubApp,
  linkPendingInstallation,
  loadInstallations,
  pendingInstallation,
  signInWithGitHub,
  unlinkInstallation,
} from '../stores/github.ts';

/**
 * The user's GitHub links: installations of SAM's GitHub App they proved are theirs, a button to
 * install (or pick) one on GitHub, and — when GitHub's Setup URL brought an installation back —
 * linking it with the token of a GitHub sign-in.
 */
export function GitHubSettings() {
  const [enabled] = createResource(githubSignInEnabled);
  onMount(async () => {
    if (!(await githubSignInEnabled())) return;
    await linkPendingInstallation();
    await loadInstallations();
  });

  return (
    <Show when={enabled()}>
      <section class="card" aria-labelledby="github-title">
        <h2 id="github-title">GitHub</h2>
        <p class="muted">
          Link an installation of SAM's GitHub App to work on its private repositories. SAM checks with GitHub that the
          installation is yours before it links it.
        </p>
        <Show when={github.notice}>
          <p class="notice" role="status">
            {github.notice}
          </p>
        </Show>
        <Show when={github.error}>
          <p class="error" role="alert">
            {github.error}
          </p>
        </Show>
        <Show when={pendingInstallation() && !hasGitHubToken()}>
          <p class="notice" role="status">
            To link installation {pendingInstallation()}, sign in with GitHub so GitHub can confirm it is yours.
          </p>
          <button type="button" onClick={() => void signInWithGitHub()}>
            Sign in with GitHub
          </button>
        </Show>
        <Show
          when={github.installations.length > 0}
          fallback={<p class="muted">{github.loaded ? 'No GitHub installations linked yet.' : 'Loading…'}</p>}
        >
          <ul class="github-installations" aria-label="Linked GitHub installations">
            <For each={github.installations}>
              {(i) => (
                <li>
                  <strong>{i.accountLogin}</strong>
                  <span class="muted">
                    {' '}
                    {i.accountType} · installation {i.installationId} ·{' '}
                    {i.repositorySelection === 'all' ? 'all repositories' : 'selected repositories'}
                  </span>{' '}
                  <button type="button" class="link" onClick={() => void unlinkInstallation(i.installationId)}>
                    Unlink {i.accountLogin}
                  </button>
                </li>
              )}
            </For>
          </ul>
        </Show>
        <button type="button" class="primary" onClick={() => void installGitHubApp()}>
          Link a GitHub installation
        </button>
      </section>
    </Show>
  );
}
