import { createEffect, For, Show } from 'solid-js';
import type { PickableRepository } from '../../../functions/_shared/common/contracts/github.ts';
import { navigate } from '../lib/route.ts';
import { loadRepositoryPage, repoError, repoPage } from '../stores/github.ts';

/**
 * The repositories of a linked GitHub installation, one page at a time; the open picker and its
 * page live in the URL (`#/?pick=<installationId>&page=<n>`).
 */
export function RepositoryPicker(props: {
  installationId: number;
  page: number;
  onPick: (repo: PickableRepository) => void;
}) {
  createEffect(() => void loadRepositoryPage(props.installationId, props.page));
  const go = (page: number) => navigate({ name: 'projects', pick: { installationId: props.installationId, page } });

  return (
    <div class="repo-picker" role="group" aria-label="GitHub repositories">
      <Show when={repoError()}>
        <p class="error" role="alert">
          {repoError()}
        </p>
      </Show>
      <Show when={repoPage()} fallback={<p class="muted">Loading repositories…</p>}>
        {(page) => (
          <>
            <p class="muted">
              {page().totalCount} repositories · page {page().page}
            </p>
            <ul>
              <For each={page().repositories}>
                {(repo) => (
                  <li>
                    <button type="button" class="link" onClick={() => props.onPick(repo)}>
                      {repo.fullName}
                    </button>
                    <span class="muted">{repo.private ? ' · private' : ' · public'}</span>
                  </li>
                )}
              </For>
            </ul>
            <div class="pager">
              <button type="button" disabled={page().page <= 1} onClick={() => go(page().page - 1)}>
                Previous
              </button>
              <button type="button" disabled={!page().hasNext} onClick={() => go(page().page + 1)}>
                Next
              </button>
              <button type="button" class="link" onClick={() => navigate({ name: 'projects' })}>
                Close
              </button>
            </div>
          </>
        )}
      </Show>
    </div>
  );
}
