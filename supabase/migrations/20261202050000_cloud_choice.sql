-- Where a task's machine runs, as the user chose it: a provider (local, hetzner, scaleway), a size
-- (small/medium/large) and a location (a Hetzner location or a Scaleway zone; none: the provider's
-- default). The composer sends them in submit_task's options (`provider`, `vmSize`, `location`);
-- otherwise they come from the task retried or forked, the agent profile, or the project's defaults
-- (`default_provider`, `default_vm_size`, `default_location`). A provider and its location are
-- always taken from the same place, so a Scaleway zone is never sent to Hetzner, and an unknown
-- provider or a location the provider does not have is refused in words. The task records the
-- choice (`tasks.location` is new), its node is made with it, and a warm node is reused only when it
-- is of the same provider (and location, when one was chosen; a brought machine serves tasks that
-- chose no cloud).
--
-- A project may also name its own server types per size (`projects.machine_types`, e.g.
-- `{"hetzner": {"small": "cpx22"}}`); the orchestrator applies them over the built-in table.

-- The providers and locations SAM offers (functions/_shared/common/contracts/clouds.ts says the same).
create or replace function public.sam_provider_locations(p_provider text) returns text[]
language sql immutable set search_path = '' as $$
  select case p_provider
    when 'local' then array[]::text[]
    when 'hetzner' then array['fsn1', 'nbg1', 'hel1', 'ash', 'hil', 'sin']
    when 'scaleway' then array['fr-par-1', 'fr-par-2', 'fr-par-3', 'nl-ams-1', 'nl-ams-2', 'nl-ams-3',
                               'pl-waw-1', 'pl-waw-2', 'pl-waw-3', 'it-mil-1']
  end
$$;

-- Null when the pair is fine, else why not (in words).
create or replace function public.sam_machine_choice_problem(p_provider text, p_location text) returns text
language sql immutable set search_path = '' as $$
  select case
    when public.sam_provider_locations(p_provider) is null then
      format('unknown machine provider "%s" (one of local, hetzner, scaleway)', left(p_provider, 64))
    when p_location is null then null
    when p_provider = 'local' then 'local machines have no location'
    when not p_location = any (public.sam_provider_locations(p_provider)) then
      format('%s has no location "%s" (one of %s)', p_provider, left(p_location, 64),
             array_to_string(public.sam_provider_locations(p_provider), ', '))
  end
$$;

-- A project's server types per size: {"<provider>": {"small"|"medium"|"large": "<type>"}}.
create or replace function public.sam_machine_types_ok(p jsonb) returns boolean
language sql immutable set search_path = '' as $$
  select jsonb_typeof(p) = 'object' and not exists (
    select 1 from jsonb_each(p) e
     where e.key not in ('hetzner', 'scaleway') or jsonb_typeof(e.value) <> 'object'
        or exists (select 1 from jsonb_each(e.value) s
                    where s.key not in ('small', 'medium', 'large') or jsonb_typeof(s.value) <> 'string'
                       or not (s.value #>> '{}') ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$'))
$$;

alter table public.tasks add column if not exists location text;
alter table public.tasks drop constraint if exists tasks_machine_choice_ok;
alter table public.tasks add constraint tasks_machine_choice_ok
  check (provider is null or public.sam_machine_choice_problem(provider, location) is null);

alter table public.projects add column if not exists machine_types jsonb not null default '{}'::jsonb;
alter table public.projects drop constraint if exists projects_machine_types_ok;
alter table public.projects add constraint projects_machine_types_ok check (public.sam_machine_types_ok(machine_types));
alter table public.projects drop constraint if exists projects_machine_choice_ok;
alter table public.projects add constraint projects_machine_choice_ok
  check (public.sam_machine_choice_problem(default_provider, default_location) is null);
grant update (machine_types) on public.projects to authenticated;
comment on column public.projects.machine_types is
  'Server types per size for this project''s machines, over the built-in table: {"hetzner": {"small": "cpx22"}}.';
comment on column public.tasks.location is
  'Where the task''s machine runs (a Hetzner location or a Scaleway zone); null: the provider''s default.';

-- sam_create_task of 20261202011000_explicit_no_profile.sql, with the machine choice resolved as
-- one (provider, location) pair and checked before the task exists.
create or replace function public.sam_create_task(p_project public.projects, p_message text, p_options jsonb,
  p_trigger public.task_trigger, p_parent uuid, p_source uuid, p_depth integer, p_dispatcher uuid)
returns public.tasks language plpgsql security definer set search_path = '' as $$
declare
  t public.tasks; sid uuid := extensions.gen_random_uuid(); tid uuid := extensions.gen_random_uuid();
  prof public.agent_profiles; src public.tasks; v_provider text; v_location text; problem text;
begin
  if p_message is null or length(btrim(p_message)) = 0 or length(p_message) > 16000 then
    raise exception 'a task message is 1 to 16000 characters' using errcode = '22023';
  end if;
  perform public.sam_check_user_quotas(p_project.owner_id);
  if jsonb_typeof(p_options -> 'profile') is distinct from 'null' then
    prof := public.sam_resolve_agent_profile(p_project, nullif(btrim(p_options ->> 'profile'), ''), p_source);
  end if;
  if p_source is not null then select * into src from public.tasks where id = p_source; end if;
  if jsonb_typeof(p_options -> 'location') not in ('string', 'null') then
    raise exception 'location is a string' using errcode = '22023';
  end if;
  if nullif(btrim(p_options ->> 'provider'), '') is not null then
    v_provider := btrim(p_options ->> 'provider');
    v_location := nullif(btrim(p_options ->> 'location'), '');
  elsif src.provider is not null then
    v_provider := src.provider; v_location := src.location;
  elsif prof.provider is not null then
    v_provider := prof.provider; v_location := prof.location;
  else
    v_provider := p_project.default_provider; v_location := p_project.default_location;
  end if;
  problem := public.sam_machine_choice_problem(v_provider, v_location);
  if problem is not null then raise exception '%', problem using errcode = '22023'; end if;
  if p_options ->> 'vmSize' is not null and not p_options ->> 'vmSize' in ('small', 'medium', 'large') then
    raise exception 'vmSize is one of small, medium, large' using errcode = '22023';
  end if;
  insert into public.tasks (id, project_id, owner_id, parent_task_id, source_task_id, dispatch_depth, triggered_by,
      task_mode, dispatched_by_agent_session_id, title, description, status, execution_step, step_changed_at,
      priority, branch, base_branch, agent_type, provider, location, vm_size, workspace_profile, chat_session_id,
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
      v_provider, v_location,
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

-- claim_warm_node of 20261122001000_node_functions.sql: only a node of the task's provider (and of
-- its location, when it chose one) serves it; a machine the user brought (`byo`) serves the tasks
-- that asked for no cloud.
create or replace function public.claim_warm_node(p_task uuid) returns uuid
language plpgsql security definer set search_path = '' as $$
declare t public.tasks; nid uuid; now_ timestamptz := public.sam_now();
begin
  select * into t from public.tasks where id = p_task for update;
  if t.claimed_warm_node_id is not null then return t.claimed_warm_node_id; end if;
  if not public.is_active(t.status) then return null; end if;
  select n.id into nid from public.nodes n
   where n.owner_id = t.owner_id and n.status = 'warm' and n.vm_size >= coalesce(t.vm_size, 'small')
     and (n.provider = coalesce(t.provider, 'local') or n.provider = 'byo' and coalesce(t.provider, 'local') = 'local')
     and (t.location is null or n.location = t.location)
     and n.warm_until > now_ and n.last_heartbeat_at > now_ - public.setting_interval('heartbeat_stale', t.project_id)
   order by n.vm_size = t.vm_size desc, n.vm_size, n.warm_since
   limit 1 for update skip locked;
  if nid is null then return null; end if;
  perform public.sam_node_move(nid, array['warm']::public.node_status[], 'active', 'claimed by task ' || p_task);
  update public.nodes set claimed_by_task_id = p_task where id = nid;
  update public.tasks set claimed_warm_node_id = nid, node_id = nid where id = p_task;
  return nid;
end $$;

-- place_task of 20261122001000_node_functions.sql: the new node and its provision_node job carry the
-- task's location too.
create or replace function public.place_task(p_task uuid) returns text
language plpgsql security definer set search_path = '' as $$
declare t public.tasks; nid uuid;
begin
  select * into t from public.tasks where id = p_task for update;
  if not public.is_active(t.status) or t.node_id is not null or t.auto_provisioned_node_id is not null then
    return 'placed';
  end if;
  nid := public.claim_warm_node(p_task);
  if nid is not null then
    perform public.sam_request_workspace(p_task, nid);
    return 'warm';
  end if;
  insert into public.nodes (owner_id, name, provider, vm_size, location, auto_provisioned)
  values (t.owner_id, 'Auto: ' || left(t.title, 40), coalesce(t.provider, 'local'), coalesce(t.vm_size, 'medium'),
          t.location, true)
  returning id into nid;
  insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, to_state, actor_type, actor_id, reason)
  values ('node', nid, t.owner_id, t.project_id, 'provisioning', coalesce(public.sam_caller(), 'system'), public.sam_actor_id(),
          'for task ' || t.id);
  update public.tasks set auto_provisioned_node_id = nid where id = p_task;
  perform public.sam_task_step(p_task, 'node_provisioning', 'no warm node');
  perform public.sam_enqueue_job('provision_node', t.owner_id, t.project_id, t.id, nid,
    jsonb_strip_nulls(jsonb_build_object('provider', coalesce(t.provider, 'local'), 'vmSize', coalesce(t.vm_size, 'medium'),
                                         'location', t.location)),
    'provision_node:' || nid);
  return 'provisioning';
end $$;

revoke all on function public.sam_create_task(public.projects, text, jsonb, public.task_trigger, uuid, uuid, integer, uuid)
  from public, anon, authenticated;
revoke all on function public.claim_warm_node(uuid), public.place_task(uuid) from public, anon, authenticated;

-- As every migration ends: nothing executable by public or anon, everything by service_role.
revoke execute on all functions in schema public from public, anon;
grant execute on all functions in schema public to service_role;
-- The checks of projects' and tasks' constraints run as the writer (a user updating their project).
grant execute on function public.sam_provider_locations(text), public.sam_machine_choice_problem(text, text),
  public.sam_machine_types_ok(jsonb) to authenticated;
