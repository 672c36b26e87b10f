import type { NewProject, Project } from '../types.ts';
import { ownerId, sb } from './client.ts';

interface ProjectRow {
  id: string;
  name: string;
  repository: string;
  repo_provider: string;
  default_branch: string;
  default_agent_type: string;
  default_agent_profile_id: string | null;
  created_at: string;
}

const toProject = (r: ProjectRow): Project => ({
  id: r.id,
  name: r.name,
  repository: r.repository,
  repoProvider: r.repo_provider,
  defaultBranch: r.default_branch,
  defaultAgentType: r.default_agent_type,
  defaultAgentProfileId: r.default_agent_profile_id,
  createdAt: r.created_at,
});

const PROJECT_COLUMNS =
  'id, name, repository, repo_provider, default_branch, default_agent_type, default_agent_profile_id, created_at';

export async function listProjects(): Promise<Project[]> {
  const { data, error } = await sb().from('projects').select(PROJECT_COLUMNS).order('created_at', { ascending: false });
  if (error) throw new Error(error.message);
  return (data as ProjectRow[]).map(toProject);
}

/** A URL with a host is github/gitlab; anything else is a path on the machine (`local`). */
export function repoProviderOf(repository: string): 'github' | 'gitlab' | 'local' {
  if (/gitlab/i.test(repository)) return 'gitlab';
  if (/^(https?:\/\/|git@|ssh:\/\/)/.test(repository)) return 'github';
  return 'local';
}

export async function createProject(input: NewProject): Promise<Project> {
  const owner = await ownerId();
  const { data, error } = await sb()
    .from('projects')
    .insert({
      owner_id: owner,
      name: input.name,
      repository: input.repository,
      repo_provider: repoProviderOf(input.repository),
      default_branch: input.defaultBranch,
      default_agent_type: input.defaultAgentType,
    })
    .select(PROJECT_COLUMNS)
    .single();
  if (error) throw new Error(error.code === '23505' ? 'You already have a project with that name.' : error.message);
  return toProject(data as ProjectRow);
}
