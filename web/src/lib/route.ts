import { createSignal } from 'solid-js';

/**
 * Hash routes: `#/` projects, `#/p/<projectId>` project chat, `#/p/<projectId>/t/<taskId>` a task,
 * `#/settings` the user's credentials.
 */
export type Route =
  { name: 'projects' } | { name: 'settings' } | { name: 'project'; projectId: string; taskId: string | null };

function parse(hash: string): Route {
  if (hash === '#/settings') return { name: 'settings' };
  const m = /^#\/p\/([0-9a-f-]{36})(?:\/t\/([0-9a-f-]{36}))?$/.exec(hash);
  if (m) return { name: 'project', projectId: m[1]!, taskId: m[2] ?? null };
  return { name: 'projects' };
}

const [route, setRoute] = createSignal<Route>(parse(location.hash));
window.addEventListener('hashchange', () => setRoute(parse(location.hash)));

export { route };

export function navigate(to: Route): void {
  const hash =
    to.name === 'projects'
      ? '#/'
      : to.name === 'settings'
        ? '#/settings'
        : `#/p/${to.projectId}${to.taskId ? `/t/${to.taskId}` : ''}`;
  if (location.hash !== hash) location.hash = hash;
  setRoute(parse(hash));
}
