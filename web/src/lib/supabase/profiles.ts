// Agent profiles (`agent_profiles` under RLS: the project owner's alone)
import type { AgentProfile, AgentProfileInput } from '../types.ts';
import { PROFILE_COLUMNS, profileError, toProfile, toProfileRow, type ProfileRow } from '../profile-rows.ts';
import { ownerId, sb } from './client.ts';

export async function listProfiles(projectId: string): Promise<AgentProfile[]> {
  const { data, error } = await sb()
    .from('agent_profiles')
    .select(PROFILE_COLUMNS)
    .eq('project_id', projectId)
    .order('name');
  if (error) throw profileError(error);
  return (data as unknown as ProfileRow[]).map(toProfile);
}

/** Creates the profile (`id` null) or changes it; returns it as stored. */
export async function saveProfile(
  projectId: string,
  id: string | null,
  input: AgentProfileInput,
): Promise<AgentProfile> {
  const owner = await ownerId();
  const row = toProfileRow(input);
  const query = id
    ? sb().from('agent_profiles').update(row).eq('id', id).eq('project_id', projectId)
    : sb()
        .from('agent_profiles')
        .insert({ ...row, project_id: projectId, owner_id: owner });
  const { data, error } = await query.select(PROFILE_COLUMNS).maybeSingle();
  if (error) throw profileError(error, input.name);
  if (!data) throw new Error('That profile no longer exists. It may have been deleted.');
  return toProfile(data as unknown as ProfileRow);
}

export async function deleteProfile(id: string): Promise<void> {
  const { error } = await sb().from('agent_profiles').delete().eq('id', id);
  if (error) throw profileError(error);
}

/** Sets (or, with null, clears) the profile a project's tasks run with when they name none. */
export async function setDefaultProfile(projectId: string, profileId: string | null): Promise<void> {
  const { data, error } = await sb()
    .from('projects')
    .update({ default_agent_profile_id: profileId })
    .eq('id', projectId)
    .select('id')
    .maybeSingle();
  if (error) throw profileError(error);
  if (!data) throw new Error('That project no longer exists.');
}
