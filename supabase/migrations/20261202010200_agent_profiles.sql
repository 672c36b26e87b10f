-- Agent profiles: per project, a named way of running an agent — agent type, model, permission
-- mode, workspace profile, task mode, extra instructions, budgets, machine choices. A task takes
-- them from the profile it names (composer, dispatch_task's `profile`), else the profile of the task
-- it retries or forks, else the project's default profile; an explicit option still wins over the
-- profile. The task records the profile it resolved, as it was then (`tasks.agent_profile`).

create table if not exists public.agent_profiles (
  id uuid primary key default extensions.gen_random_uuid(),
  project_id uuid not null references public.projects (id) on delete cascade,
  owner_id uuid not null references auth.users (id) on delete cascade,
  name text not null check (name ~ '^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$'),
  description text not null default '' check (length(description) <= 500),
  agent_type text not null check (agent_type ~ '^[a-z0-9][a-z0-9-]{0,31}$'),
  model text check (model is null or model ~ '^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$'),
  -- auto: SAM approves what the agent asks; ask: the user answers each request in the chat;
  -- read-only: everything that would change something is refused.
  permission_mode text not null default 'auto' check (permission_mode in ('auto', 'ask', 'read-only')),
  workspace_profile public.workspace_profile,
  task_mode public.task_mode,
  instructions text not null default '' check (length(instructions) <= 8000),
  max_turns integer check (max_turns is null or max_turns between 1 and 1000),
  timeout_minutes integer check (timeout_minutes is null or timeout_minutes between 1 and 1440),
  max_tokens bigint check (max_tokens is null or max_tokens between 1000 and 100000000),
  provider text check (provider is null or length(provider) between 1 and 64),
  vm_size public.vm_size,
  location text check (location is null or length(location) between 1 and 64),
  created_at timestamptz not null default public.sam_now(),
  updated_at timestamptz not null default public.sam_now(),
  unique (project_id, name)
);
create index if not exists agent_profiles_owner_idx on public.agent_profiles (owner_id);

alter table public.projects add column if not exists default_agent_profile_id uuid
  references public.agent_profiles (id) on delete set null;
alter table public.tasks add column if not exists agent_profile_id uuid references public.agent_profiles (id) on delete set null;
alter table public.tasks add column if not exists agent_profile jsonb not null default '{}'::jsonb;

-- A profile belongs to its project's owner; a project's default profile is one of its own.
create or replace function public.sam_check_agent_profile() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if tg_table_name = 'agent_profiles' then
    if not exists (select 1 from public.projects where id = new.project_id and owner_id = new.owner_id) then
      raise exception 'a profile belongs to its project''s owner' using errcode = '42501';
    end if;
    new.updated_at := public.sam_now();
  elsif new.default_agent_profile_id is not null and not exists (
      select 1 from public.agent_profiles where id = new.default_agent_profile_id and project_id = new.id) then
    raise exception 'the default profile must be one of the project''s own' using errcode = '22023';
  end if;
  return new;
end $$;

drop trigger if exists agent_profiles_check on public.agent_profiles;
create trigger agent_profiles_check before insert or update on public.agent_profiles
  for each row execute function public.sam_check_agent_profile();
drop trigger if exists projects_default_profile_check on public.projects;
create trigger projects_default_profile_check before insert or update of default_agent_profile_id on public.projects
  for each row execute function public.sam_check_agent_profile();

alter table public.agent_profiles enable row level security;
revoke all on public.agent_profiles from anon, authenticated, sam_node, sam_workspace, sam_agent;
grant all on public.agent_profiles to service_role;
grant select, insert, update, delete on public.agent_profiles to authenticated;
grant update (default_agent_profile_id) on public.projects to authenticated;

drop policy if exists "Owners can read their projects' profiles" on public.agent_profiles;
create policy "Owners can read their projects' profiles" on public.agent_profiles for select to authenticated
  using (owner_id = (select auth.uid()));
drop policy if exists "Owners can add profiles to their own projects" on public.agent_profiles;
create policy "Owners can add profiles to their own projects" on public.agent_profiles for insert to authenticated
  with check (owner_id = (select auth.uid())
              and project_id in (select id from public.projects where owner_id = (select auth.uid())));
drop policy if exists "Owners can edit their projects' profiles" on public.agent_profiles;
create policy "Owners can edit their projects' profiles" on public.agent_profiles for update to authenticated
  using (owner_id = (select auth.uid()))
  with check (owner_id = (select auth.uid())
              and project_id in (select id from public.projects where owner_id = (select auth.uid())));
drop policy if exists "Owners can delete their projects' profiles" on public.agent_profiles;
create policy "Owners can delete their projects' profiles" on public.agent_profiles for delete to authenticated
  using (owner_id = (select auth.uid()));

-- The profile a new task runs with: the one named (id or name, in the task's project), else the
-- source task's (retry, fork), else the project's default, else none.
create or replace function public.sam_resolve_agent_profile(p_project public.projects, p_ref text, p_source uuid)
returns public.agent_profiles
language plpgsql stable security definer set search_path = '' as $$
declare v public.agent_profiles;
begin
  if p_ref is not null then
    if p_ref ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
      select * into v from public.agent_profiles where project_id = p_project.id and id = p_ref::uuid;
    end if;
    if v.id is null then
      select * into v from public.agent_profiles where project_id = p_project.id and name = p_ref;
    end if;
    if v.id is null then
      raise exception 'no agent profile "%" in this project', left(p_ref, 64) using errcode = '22023';
    end if;
    return v;
  end if;
  if p_source is not null then
    select ap.* into v from public.tasks s join public.agent_profiles ap on ap.id = s.agent_profile_id
     where s.id = p_source and ap.project_id = p_project.id;
    if v.id is not null then return v; end if;
  end if;
  if p_project.default_agent_profile_id is not null then
    select * into v from public.agent_profiles where id = p_project.default_agent_profile_id;
  end if;
  return v;
end $$;

-- As 20261202000400's version (quotas), resolving the agent profile first: explicit option →
-- profile → project default → platform default, for the agent, task mode, workspace profile and
-- machine; the task records the profile as resolved.
create or replace function public.sam_create_task(p_project public.projects, p_message text, p_options jsonb,
  p_trigger public.task_trigger, p_parent uuid, p_source uuid, p_depth integer, p_dispatcher uuid)
returns public.tasks language plpgsql security definer set search_path = '' as $$
declare
  t public.tasks; sid uuid := extensions.gen_random_uuid(); tid uuid := extensions.gen_random_uuid();
  prof public.agent_profiles;
begin
  if p_message is null or length(btrim(p_message)) = 0 or length(p_message) > 16000 then
    raise exception 'a task message is 1 to 16000 characters' using errcode = '22023';
  end if;
  perform public.sam_check_user_quotas(p_project.owner_id);
  prof := public.sam_resolve_agent_profile(p_project, nullif(btrim(p_options ->> 'profile'), ''), p_source);
  insert into public.tasks (id, project_id, owner_id, parent_task_id, source_task_id, dispatch_depth, triggered_by,
      task_mode, dispatched_by_agent_session_id, title, description, status, execution_step, step_changed_at,
      priority, branch, base_branch, agent_type, provider, vm_size, workspace_profile, chat_session_id,
      agent_profile_id, agent_profile)
  values (tid, p_project.id, p_project.owner_id, p_parent, p_source, p_depth, p_trigger,
      coalesce((p_options ->> 'taskMode')::public.task_mode, prof.task_mode,
               case when coalesce((p_options ->> 'workspaceProfile')::public.workspace_profile, prof.workspace_profile)
                         = 'lightweight' and p_trigger = 'user'
                    then 'conversation' else 'task' end::public.task_mode),
      p_dispatcher, public.sam_initial_title(p_message), p_message, 'queued', 'node_selection', public.sam_now(),
      least(greatest(coalesce((p_options ->> 'priority')::integer, 0), 0), 100),
      coalesce(p_options ->> 'branch', public.sam_branch_name(p_message, tid)),
      coalesce(p_options ->> 'baseBranch', p_project.default_branch),
      coalesce(p_options ->> 'agentType', prof.agent_type, p_project.default_agent_type),
      coalesce(p_options ->> 'provider', prof.provider, p_project.default_provider),
      coalesce((p_options ->> 'vmSize')::public.vm_size, prof.vm_size, p_project.default_vm_size),
      coalesce((p_options ->> 'workspaceProfile')::public.workspace_profile, prof.workspace_profile,
               p_project.default_workspace_profile),
      null,
      prof.id,
      case when prof.id is null then '{}'::jsonb else jsonb_strip_nulls(jsonb_build_object(
        'id', prof.id, 'name', prof.name, 'agentType', prof.agent_type, 'model', prof.model,
        'permissionMode', prof.permission_mode, 'workspaceProfile', prof.workspace_profile,
        'taskMode', prof.task_mode, 'instructions', nullif(prof.instructions, ''), 'maxTurns', prof.max_turns,
        'timeoutMinutes', prof.timeout_minutes, 'maxTokens', prof.max_tokens, 'provider', prof.provider,
        'vmSize', prof.vm_size, 'location', prof.location)) end)
  returning * into t;
  if not public.sam_is_valid_git_ref(t.branch) then
    raise exception 'invalid branch name %', t.branch using errcode = '22023';
  end if;
  insert into public.chat_sessions (id, project_id, owner_id, task_id, topic)
  values (sid, t.project_id, t.owner_id, t.id, left(t.title, 200));
  update public.tasks set chat_session_id = sid where id = t.id returning * into t;
  insert into public.task_events (task_id, project_id, owner_id, actor_type, actor_id, to_status, to_step, reason)
  values (t.id, t.project_id, t.owner_id, coalesce(public.sam_caller(), 'system'), public.sam_actor_id(),
          'queued', 'node_selection', p_trigger::text);
  insert into public.messages (session_id, project_id, owner_id, message_id, role, content, origin)
  values (sid, t.project_id, t.owner_id, 'initial', 'user', p_message, p_trigger::text);
  if length(btrim(p_message)) > 100 then
    perform public.sam_enqueue_job('generate_title', t.owner_id, t.project_id, t.id, null,
      jsonb_build_object('message', left(p_message, 4000)), 'generate_title:' || t.id);
  end if;
  return t;
end $$;

revoke all on function public.sam_check_agent_profile() from public, anon, authenticated;
revoke all on function public.sam_resolve_agent_profile(public.projects, text, uuid) from public, anon, authenticated;
revoke all on function public.sam_create_task(public.projects, text, jsonb, public.task_trigger, uuid, uuid, integer, uuid)
  from public, anon, authenticated;
