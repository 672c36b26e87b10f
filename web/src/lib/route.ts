import { createSignal } from 'solid-js';
import { isTaskFilter, type TaskFilter } from './task-tree.ts';

/**
 * Hash routes: `#/` projects, `#/p/<projectId>` project chat, `#/p/<projectId>/t/<taskId>` a task,
 * either with `?filter=<active|needs-me|done|failed>` narrowing the task tree, `panel=<machine|budget>`
 * with that project panel open, and (a task) `fork=<messageId>` with the fork form open on that message,
 * `#/p/<projectId>/profiles` its agent profiles (`?edit=<profileId|new>` with the form open),
 * `#/settings` the user's credentials and GitHub links (`?set=<provider>` with that key's form open),
 * `#/nodes` the user's machines,
 * `#/?pick=<installationId>&page=<n>` the projects page with the GitHub repository picker open,
 * `#/p/<projectId>/ideas` its ideas board (`?idea=<ideaId>` with that idea's editor open).
 */
export type Route =
  | { name: 'projects'; pick?: { installationId: number; page: number } }
  | { name: 'settings'; set?: string }
  | { name: 'nodes' }
  | {
      name: 'project';
      projectId: string;
      taskId: string | null;
      filter?: TaskFilter;
      panel?: ProjectPanel;
      fork?: number;
    }
  | { name: 'profiles'; projectId: string; edit: string | null }
  | { name: 'ideas'; projectId: string; idea: string | null };

/** The project chat's panels that open in place. */
export type ProjectPanel = 'machine' | 'budget';
const isPanel = (v: string | null): v is ProjectPanel => v === 'machine' || v === 'budget';

const UUID = '[0-9a-f-]{36}';

function parse(hash: string): Route {
  if (hash === '#/settings') return { name: 'settings' };
  const settings = /^#\/settings\?set=([a-z0-9-]{1,40})$/.exec(hash);
  if (settings) return { name: 'settings', set: settings[1]! };
  if (hash === '#/nodes') return { name: 'nodes' };
  const pick = /^#\/\?pick=(\d{1,15})(?:&page=(\d{1,4}))?$/.exec(hash);
  if (pick) return { name: 'projects', pick: { installationId: Number(pick[1]), page: Number(pick[2] ?? 1) || 1 } };
  const m = new RegExp(`^#/p/(${UUID})(?:/t/(${UUID}))?(?:\\?(.*))?$`).exec(hash);
  if (m) {
    const query = new URLSearchParams(m[3] ?? '');
    const [filter, panel, fork] = [query.get('filter'), query.get('panel'), query.get('fork')];
    return {
      name: 'project',
      projectId: m[1]!,
      taskId: m[2] ?? null,
      ...(isTaskFilter(filter) ? { filter } : {}),
      ...(isPanel(panel) ? { panel } : {}),
      ...(m[2] && fork && /^\d{1,15}$/.test(fork) ? { fork: Number(fork) } : {}),
    };
  }
  const p = new RegExp(`^#/p/(${UUID})/profiles(?:\\?edit=(new|${UUID}))?$`).exec(hash);
  if (p) return { name: 'profiles', projectId: p[1]!, edit: p[2] ?? null };
  const ideas = new RegExp(`^#/p/(${UUID})/ideas(?:\\?idea=(${UUID}))?$`).exec(hash);
  if (ideas) return { name: 'ideas', projectId: ideas[1]!, idea: ideas[2] ?? null };
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
    case 'project': {
      const query = new URLSearchParams();
      if (to.filter && to.filter !== 'all') query.set('filter', to.filter);
      if (to.panel) query.set('panel', to.panel);
      if (to.taskId && to.fork) query.set('fork', String(to.fork));
      const q = query.toString();
      return `#/p/${to.projectId}${to.taskId ? `/t/${to.taskId}` : ''}${q ? `?${q}` : ''}`;
    }
    case 'profiles':
      return `#/p/${to.projectId}/profiles${to.edit ? `?edit=${to.edit}` : ''}`;
    case 'ideas':
      return `#/p/${to.projectId}/ideas${to.idea ? `?idea=${to.idea}` : ''}`;
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

/** The open project's URL with a panel or the fork form opened or closed (other state kept). */
export function setProjectView(change: { panel?: ProjectPanel | null; fork?: number | null }): void {
  const r = route();
  if (r.name !== 'project') return;
  const next = { ...r };
  if (change.panel !== undefined) {
    if (change.panel) next.panel = change.panel;
    else delete next.panel;
  }
  if (change.fork !== undefined) {
    if (change.fork) next.fork = change.fork;
    else delete next.fork;
  }
  navigate(next);
}

/** Whether the open project's URL has this panel open. */
export const projectPanelOpen = (panel: ProjectPanel): boolean => {
  const r = route();
  return r.name === 'project' && r.panel === panel;
};

/**
 * The inbox, open over any view: `?inbox` in the query, before the hash (`/?inbox#/p/<id>/t/<id>`),
 * so it survives reload and a copied link, and the hash routes above stay as they are.
 */
const inboxInUrl = () => new URLSearchParams(location.search).has('inbox');
const [inboxOpen, setInboxOpenSignal] = createSignal(inboxInUrl());
window.addEventListener('popstate', () => setInboxOpenSignal(inboxInUrl()));

export { inboxOpen };

export function setInboxOpen(open: boolean): void {
  if (open === inboxInUrl()) {
    setInboxOpenSignal(open);
    return;
  }
  const query = new URLSearchParams(location.search);
  if (open) query.set('inbox', '');
  else query.delete('inbox');
  const search = query.toString().replace(/=(?=&|$)/g, '');
  history.pushState(null, '', `${location.pathname}${search ? `?${search}` : ''}${location.hash}`);
  setInboxOpenSignal(open);
}
