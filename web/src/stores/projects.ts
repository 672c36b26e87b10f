import { createStore, produce } from 'solid-js/store';
import * as api from '../lib/supabase/index.ts';
import type { NewProject, Project } from '../lib/types.ts';

interface ProjectsState {
  items: Project[];
  loaded: boolean;
  error: string | null;
}

const [projects, setState] = createStore<ProjectsState>({ items: [], loaded: false, error: null });

export { projects };

export async function loadProjects(): Promise<void> {
  try {
    const items = await api.listProjects();
    setState({ items, loaded: true, error: null });
  } catch (e) {
    setState({ loaded: true, error: e instanceof Error ? e.message : String(e) });
  }
}

export async function createProject(input: NewProject): Promise<Project> {
  const project = await api.createProject(input);
  setState(
    produce((s) => {
      s.items.unshift(project);
    }),
  );
  return project;
}

export function projectById(id: string): Project | undefined {
  return projects.items.find((p) => p.id === id);
}

/** Records a project's new default profile (after the server accepted it). */
export function setProjectDefaultProfile(projectId: string, profileId: string | null): void {
  setState('items', (p) => p.id === projectId, 'defaultAgentProfileId', profileId);
}

export function resetProjects(): void {
  setState({ items: [], loaded: false, error: null });
}
