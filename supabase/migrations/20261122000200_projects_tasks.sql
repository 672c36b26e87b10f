-- Control plane, part 2: projects, their setting overrides, tasks and the task event log.

create table if not exists public.projects (
  id uuid primary key default extensions.gen_random_uuid(),
  owner_id uuid not null references auth.users (id) on delete cascade,
  name text not null check (length(name) between 1 and 200),
  repository text not null check (length(repository) between 1 and 500),
  repo_provider text not null default 'github' check (repo_provider in ('github', 'gitlab', 'local')),
  default_branch text not null default 'main' check (length(default_branch) between 1 and 255),
  default_agent_type text not null default 'opencode' check (length(default_agent_type) between 1 and 64),
  default_provider text not null default 'local' check (length(default_provider) between 1 and 64),
  default_vm_size public.vm_size not null default 'medium',
  default_workspace_profile public.workspace_profile not null default 'full',
  default_location text,
  created_at timestamptz not null default public.sam_now(),
  updated_at timestamptz not null default public.sam_now(),
  unique (owner_id, name)
);

create table if not exists public.project_settings (
  project_id uuid not null references public.projects (id) on delete cascade,
  key text not null references public.settings (key),
  value jsonb not null,
  primary key (project_id, key)
);

-- One function reads every limit: the project's override, else the platform value.
create or replace function public.setting(p_key text, p_project uuid default null) returns jsonb
language plpgsql stable security definer set search_path = '' as $$
declare v jsonb;
begin
  select coalesce(
    (select ps.value from public.project_settings ps where ps.project_id = p_project and ps.key = p_key),
    (select s.value from public.settings s where s.key = p_key)) into v;
  if v is null then
    raise exception 'unknown setting %', p_key using errcode = '22023';
  end if;
  return v;
end $$;
create or replace function public.setting_int(p_key text, p_project uuid default null) returns integer
language sql stable set search_path = '' as $$ select (public.setting(p_key, p_project) #>> '{}')::integer $$;
create or replace function public.setting_interval(p_key text, p_project uuid default null) returns interval
language sql stable set search_path = '' as $$ select (public.setting(p_key, p_project) #>> '{}')::interval $$;

create table if not exists public.tasks (
  id uuid primary key default extensions.gen_random_uuid(),
  project_id uuid not null references public.projects (id) on delete cascade,
  owner_id uuid not null references auth.users (id) on delete cascade,
  -- Lineage: the dispatching parent (sub-tasks), or the task retried / forked from (source_task_id).
  parent_task_id uuid references public.tasks (id) on delete set null,
  source_task_id uuid references public.tasks (id) on delete set null,
  dispatch_depth integer not null default 0 check (dispatch_depth >= 0),
  triggered_by public.task_trigger not null default 'user',
  task_mode public.task_mode not null default 'task',
  dispatched_by_agent_session_id uuid,
  title text not null check (length(title) between 1 and 100),
  description text not null default '' check (length(description) <= 32000),
  status public.task_status not null default 'draft',
  execution_step public.task_step,
  status_changed_at timestamptz not null default public.sam_now(),
  step_changed_at timestamptz,
  priority integer not null default 0 check (priority between 0 and 100),
  branch text check (branch is null or length(branch) <= 255),
  base_branch text,
  pr_url text check (pr_url is null or length(pr_url) <= 500),
  summary text check (summary is null or length(summary) <= 10000),
  completion_evidence jsonb,
  error_message text check (error_message is null or length(error_message) <= 4000),
  agent_type text,
  provider text,
  vm_size public.vm_size,
  workspace_profile public.workspace_profile,
  chat_session_id uuid,
  workspace_id uuid,
  node_id uuid,
  claimed_warm_node_id uuid,
  auto_provisioned_node_id uuid,
  started_at timestamptz,
  completed_at timestamptz,
  created_at timestamptz not null default public.sam_now(),
  updated_at timestamptz not null default public.sam_now(),
  constraint tasks_not_own_parent check (parent_task_id is distinct from id),
  constraint tasks_step_only_when_running check (execution_step is null or status in ('queued', 'delegated', 'in_progress'))
);
create index if not exists tasks_project_status_idx on public.tasks (project_id, status, created_at desc);
create index if not exists tasks_owner_idx on public.tasks (owner_id);
create index if not exists tasks_parent_active_idx on public.tasks (parent_task_id)
  where parent_task_id is not null and status in ('queued', 'delegated', 'in_progress');
create index if not exists tasks_parent_idx on public.tasks (parent_task_id) where parent_task_id is not null;
create index if not exists tasks_source_idx on public.tasks (source_task_id) where source_task_id is not null;
create index if not exists tasks_dispatched_active_idx on public.tasks (project_id)
  where dispatch_depth > 0 and status in ('queued', 'delegated', 'in_progress');
create index if not exists tasks_queued_since_idx on public.tasks (status_changed_at) where status = 'queued';
create index if not exists tasks_step_since_idx on public.tasks (execution_step, step_changed_at)
  where status in ('queued', 'delegated', 'in_progress');
create index if not exists tasks_workspace_idx on public.tasks (workspace_id) where workspace_id is not null;
create index if not exists tasks_node_idx on public.tasks (auto_provisioned_node_id) where auto_provisioned_node_id is not null;
create index if not exists tasks_dispatcher_idx on public.tasks (dispatched_by_agent_session_id)
  where dispatched_by_agent_session_id is not null;
-- A node is claimed by at most one non-terminal task.
create unique index if not exists tasks_one_claim_per_node on public.tasks (claimed_warm_node_id)
  where claimed_warm_node_id is not null and status in ('draft', 'ready', 'queued', 'delegated', 'in_progress');

create table if not exists public.task_events (
  id bigint generated by default as identity primary key,
  task_id uuid not null references public.tasks (id) on delete cascade,
  project_id uuid not null references public.projects (id) on delete cascade,
  owner_id uuid not null,
  actor_type public.actor_type not null,
  actor_id text,
  from_status public.task_status,
  to_status public.task_status,
  from_step public.task_step,
  to_step public.task_step,
  reason text,
  created_at timestamptz not null default public.sam_now()
);
create index if not exists task_events_task_idx on public.task_events (task_id, id);
create index if not exists task_events_owner_idx on public.task_events (owner_id);
