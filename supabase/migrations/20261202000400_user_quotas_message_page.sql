-- Bounds and quotas. Per-user quotas are platform-wide settings (a project cannot lift them):
-- `max_active_tasks_per_user` (queued, delegated or in progress, whoever started them: the user,
-- their agents' dispatches, the system on their behalf) and `max_submissions_per_minute_per_user`
-- (tasks a user puts in the queue — submit, run, retry, fork — within a minute). Every path that
-- creates a queued task (sam_create_task) or queues an idea (run_task) checks them, serialized per
-- user, and refuses with SQLSTATE 54000, a message naming the setting and DETAIL `limit=<key>`.
-- `get_session_messages` pages a chat session; a page holds at most `max_message_page` messages
-- whatever the caller asks for. Safe to run twice.

insert into public.settings (key, value, kind, description, min_value, max_value, project_override) values
  ('max_active_tasks_per_user', '100', 'integer', 'active (queued, delegated, in progress) tasks per user, however started', '1', '10000', 'none'),
  ('max_submissions_per_minute_per_user', '60', 'integer', 'tasks a user queues (submit, run, retry, fork) per minute', '1', '10000', 'none'),
  ('max_message_page', '200', 'integer', 'messages one get_session_messages page returns at most', '1', '1000', 'none')
on conflict (key) do nothing;

create index if not exists task_events_owner_queued_idx on public.task_events (owner_id, created_at)
  where to_status = 'queued';

-- Refuses a new active task for p_owner beyond the quotas. Serialized per user (transaction lock),
-- so concurrent submissions cannot all pass the count.
create or replace function public.sam_check_user_quotas(p_owner uuid) returns void
language plpgsql security definer set search_path = '' as $$
declare active integer; recent integer; lim integer;
begin
  perform pg_advisory_xact_lock(hashtext('sam user quota'), hashtext(p_owner::text));
  lim := public.setting_int('max_active_tasks_per_user');
  select count(*) into active from public.tasks
   where owner_id = p_owner and status in ('queued', 'delegated', 'in_progress');
  if active >= lim then
    raise exception 'you already have % active tasks (limit max_active_tasks_per_user = %)', active, lim
      using errcode = '54000', detail = 'limit=max_active_tasks_per_user';
  end if;
  if public.sam_caller() = 'user' then
    lim := public.setting_int('max_submissions_per_minute_per_user');
    select count(*) into recent from public.task_events
     where owner_id = p_owner and to_status = 'queued' and from_status is distinct from 'queued' and actor_type = 'user'
       and created_at > public.sam_now() - interval '1 minute';
    if recent >= lim then
      raise exception 'you submitted % tasks within a minute (limit max_submissions_per_minute_per_user = %)', recent, lim
        using errcode = '54000', detail = 'limit=max_submissions_per_minute_per_user';
    end if;
  end if;
end $$;

-- As part 8's version, with the per-user quotas checked first.
create or replace function public.sam_create_task(p_project public.projects, p_message text, p_options jsonb,
  p_trigger public.task_trigger, p_parent uuid, p_source uuid, p_depth integer, p_dispatcher uuid)
returns public.tasks language plpgsql security definer set search_path = '' as $$
declare t public.tasks; sid uuid := extensions.gen_random_uuid(); tid uuid := extensions.gen_random_uuid();
begin
  if p_message is null or length(btrim(p_message)) = 0 or length(p_message) > 16000 then
    raise exception 'a task message is 1 to 16000 characters' using errcode = '22023';
  end if;
  perform public.sam_check_user_quotas(p_project.owner_id);
  insert into public.tasks (id, project_id, owner_id, parent_task_id, source_task_id, dispatch_depth, triggered_by,
      task_mode, dispatched_by_agent_session_id, title, description, status, execution_step, step_changed_at,
      priority, branch, base_branch, agent_type, provider, vm_size, workspace_profile, chat_session_id)
  values (tid, p_project.id, p_project.owner_id, p_parent, p_source, p_depth, p_trigger,
      coalesce((p_options ->> 'taskMode')::public.task_mode,
               case when p_options ->> 'workspaceProfile' = 'lightweight' and p_trigger = 'user'
                    then 'conversation' else 'task' end::public.task_mode),
      p_dispatcher, public.sam_initial_title(p_message), p_message, 'queued', 'node_selection', public.sam_now(),
      least(greatest(coalesce((p_options ->> 'priority')::integer, 0), 0), 100),
      coalesce(p_options ->> 'branch', public.sam_branch_name(p_message, tid)),
      coalesce(p_options ->> 'baseBranch', p_project.default_branch),
      coalesce(p_options ->> 'agentType', p_project.default_agent_type),
      coalesce(p_options ->> 'provider', p_project.default_provider),
      coalesce((p_options ->> 'vmSize')::public.vm_size, p_project.default_vm_size),
      coalesce((p_options ->> 'workspaceProfile')::public.workspace_profile, p_project.default_workspace_profile),
      null)
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

-- As part 9's version, with the per-user quotas checked before an idea is queued.
create or replace function public.run_task(p_task uuid) returns boolean
language plpgsql security definer set search_path = '' as $$
declare t public.tasks; moved boolean;
begin
  select * into t from public.tasks where id = p_task;
  perform public.sam_authorize_task(t, array['owner']);
  if t.status = 'ready' then
    perform public.sam_check_user_quotas(t.owner_id);
  end if;
  if t.chat_session_id is null then
    insert into public.chat_sessions (project_id, owner_id, task_id, topic)
    values (t.project_id, t.owner_id, t.id, left(t.title, 200))
    on conflict (task_id) do nothing;
    update public.tasks set chat_session_id = (select id from public.chat_sessions where task_id = p_task),
           branch = coalesce(branch, public.sam_branch_name(title || ' ' || description, id))
     where id = p_task;
  end if;
  moved := public.sam_task_move(p_task, array['ready']::public.task_status[], 'queued', 'node_selection', 'run');
  if moved then perform public.place_task(p_task); end if;
  return moved;
end $$;

-- A page of a chat session's messages, oldest first: the newest page (or the page before message
-- row id p_before), or — with p_after — the messages after that row id. At most max_message_page
-- messages whatever p_limit asks (default 50). Readable by the session's owner, the agents of its
-- project, its workspace and the system.
create or replace function public.get_session_messages(p_session uuid, p_limit integer default 50,
  p_before bigint default null, p_after bigint default null) returns setof public.messages
language plpgsql stable security definer set search_path = '' as $$
declare s public.chat_sessions; lim integer;
begin
  select * into s from public.chat_sessions where id = p_session;
  if s.id is null or not coalesce(case public.sam_caller()
      when 'system' then true
      when 'user' then s.owner_id = auth.uid()
      when 'agent' then s.project_id = public.current_agent_project_id()
      when 'workspace' then s.workspace_id = public.current_workspace_id()
      else false end, false) then
    raise exception 'not allowed to read session %', p_session using errcode = '42501';
  end if;
  lim := least(greatest(coalesce(p_limit, 50), 1), public.setting_int('max_message_page'));
  if p_after is not null then
    return query select m.* from public.messages m where m.session_id = p_session and m.id > p_after order by m.id limit lim;
  else
    return query select x.* from (select m.* from public.messages m where m.session_id = p_session
                                     and (p_before is null or m.id < p_before) order by m.id desc limit lim) x
                 order by x.id;
  end if;
end $$;

-- As every migration ends: nothing executable by public or anon, everything by service_role.
revoke execute on all functions in schema public from public, anon;
grant execute on all functions in schema public to service_role;
grant execute on function public.get_session_messages(uuid, integer, bigint, bigint) to authenticated, sam_agent, sam_workspace;
