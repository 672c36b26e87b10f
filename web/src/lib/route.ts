import { createSignal } from 'solid-js';

/**
 * Hash routes: `#/` projects, `#/p/<projectId>` project chat, `#/p/<projectId>/t/<taskId>` a task,
 * `#/p/<projectId>/profiles` its agent profiles (`?edit=<profileId|new>` with the form open),
 * `#/settings` the user's credentials and GitHub links (`?set=<provider>` with that key's form open),
 * `#/nodes` the user's machines,
 * `#/?pick=<installationId>&page=<n>` the projects page with the GitHub repository picker open.
 */
export type Route =
  | { name: 'projects'; pick?: { installationId: number; page: number } }
  | { name: 'settings'; set?: string }
  | { name: 'nodes' }
  | { name: 'project'; projectId: string; taskId: string | null }
  | { name: 'profiles'; projectId: string; edit: string | null };

const UUID = '[0-9a-f-]{36}';

function parse(hash: string): Route {
  if (hash === '#/settings') return { name: 'settings' };
  const settings = /^#\/settings\?set=([a-z0-9-]{1,40})$/.exec(hash);
  if (settings) return { name: 'settings', set: settings[1]! };
  if (hash === '#/nodes') return { name: 'nodes' };
  const pick = /^#\/\?pick=(\d{1,15})(?:&page=(\d{1,4}))?$/.exec(hash);
  if (pick) return { name: 'projects', pick: { installationId: Number(pick[1]), page: Number(pick[2] ?? 1) || 1 } };
  const m = new RegExp(`^#/p/(${UUID})(?:/t/(${UUID}))?$`).exec(hash);
  if (m) return { name: 'project', projectId: m[1]!, taskId: m[2] ?? null };
  const p = new RegExp(`^#/p/(${UUID})/profiles(?:\\?edit=(new|${UUID}))?$`).exec(hash);
  if (p) return { name: 'profiles', projectId: p[1]!, edit: p[2] ?? null };
  return { name: 'projects' };
}

export function hrefOf(to: Route): string {
  switch (to.name) {
    case 'projects':
      return to.pick ? `#/?pick=${to.pick.installationId}&page=${to.pick.page}` : '#/';
    case 'settings':
      return to.set ? `#/settings?set=${to.set}` : '#/settings';
    case 'nodes':
      return '#/nodes';
    case 'project':
      return `#/p/${to.projectId}${to.taskId ? `/t/${to.taskId}` : ''}`;
    case 'profiles':
      return `#/p/${to.projectId}/profiles${to.edit ? `?edit=${to.edit}` : ''}`;
  }
}

const [route, setRoute] = createSignal<Route>(parse(location.hash));
window.addEventListener('hashchange', () => setRoute(parse(location.hash)));

export { route };

export function navigate(to: Route): void {
  const hash = hrefOf(to);
  if (location.hash !== hash) location.hash = hash;
  setRoute(parse(hash));
}
