/**
 * The agent profiles of one project (the profiles page and the composer's picker), re-read from
 * the server after each change so the list shows what is stored.
 */
import { createStore } from 'solid-js/store';
import * as api from '../lib/supabase/index.ts';
import type { AgentProfile, AgentProfileInput } from '../lib/types.ts';
import { setProjectDefaultProfile } from './projects.ts';

interface ProfilesState {
  projectId: string | null;
  items: AgentProfile[];
  loaded: boolean;
  error: string | null;
}

const [profiles, setState] = createStore<ProfilesState>({ projectId: null, items: [], loaded: false, error: null });

export { profiles };

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Reads the project's profiles (switching to that project first when another was loaded). */
export async function loadProfiles(projectId: string): Promise<void> {
  if (profiles.projectId !== projectId) setState({ projectId, items: [], loaded: false, error: null });
  try {
    const items = await api.listProfiles(projectId);
    if (profiles.projectId === projectId) setState({ items, loaded: true, error: null });
  } catch (e) {
    if (profiles.projectId === projectId) setState({ loaded: true, error: message(e) });
  }
}

/** Creates (`id` null) or changes a profile; returns it as stored. */
export async function saveProfile(
  projectId: string,
  id: string | null,
  input: AgentProfileInput,
): Promise<AgentProfile> {
  const saved = await api.saveProfile(projectId, id, input);
  await loadProfiles(projectId);
  return saved;
}

export async function removeProfile(projectId: string, id: string, wasDefault: boolean): Promise<void> {
  await api.deleteProfile(id);
  // The database clears a deleted default (on delete set null); the project list follows.
  if (wasDefault) setProjectDefaultProfile(projectId, null);
  await loadProfiles(projectId);
}

export async function makeDefault(projectId: string, profileId: string | null): Promise<void> {
  await api.setDefaultProfile(projectId, profileId);
  setProjectDefaultProfile(projectId, profileId);
}

export function profileById(id: string): AgentProfile | undefined {
  return profiles.items.find((p) => p.id === id);
}

export function resetProfiles(): void {
  setState({ projectId: null, items: [], loaded: false, error: null });
}
