-- Control plane, part 8: task transitions. Each guards its from-state in the WHERE, writes a
-- task_events row when (and only when) it changed something, and is a no-op when repeated.

-- The one place task status changes. Returns true when it moved, false when the task already was
-- in p_to (a repeat); raises 55000 for a move the machine does not allow.
create or replace function public.sam_task_move(p_task uuid, p_from public.task_status[], p_to public.task_status,
  p_step public.task_step default null, p_reason text default null) returns boolean
language plpgsql security definer set search_path = '' as $$
declare old public.tasks; t public.tasks; now_ timestamptz := public.sam_now();
begin
  select * into old from public.tasks where id = p_task for update;
  if old.id is null then raise exception 'task % not found', p_task using errcode = 'P0002'; end if;
  if old.status = p_to then return false; end if;
  update public.tasks x set
      status = p_to,
      status_changed_at = now_,
      execution_step = case when public.is_active(p_to) then coalesce(p_step, x.execution_step) end,
      step_changed_at = case when public.is_active(p_to) and p_step is distinct from x.execution_step
                             and p_step is not null then now_ else x.step_changed_at end,
      started_at = case when p_to = 'in_progress' then coalesce(x.started_at, now_) else x.started_at end,
      completed_at = case when public.is_terminal(p_to) then now_ end,
      updated_at = now_
    where x.id = p_task and x.status = any(p_from)
    returning * into t;
  if t.id is null then
    raise exception 'task % cannot go from % to %', p_task, old.status, p_to using errcode = '55000';
  end if;
  insert into public.task_events (task_id, project_id, owner_id, actor_type, actor_id, from_status, to_status,
                                  from_step, to_step, reason)
  values (t.id, t.project_id, t.owner_id, coalesce(public.sam_caller(), 'system'), public.sam_actor_id(),
          old.status, p_to, old.execution_step, t.execution_step, p_reason);
  return true;
end $$;

-- Steps move forward only; a late or repeated step report changes nothing. Internal (no
-- authorization): advance_task_step is the callable form.
create or replace function public.sam_task_step(p_task uuid, p_step public.task_step, p_reason text default null)
returns boolean language plpgsql security definer set search_path = '' as $$
declare old public.tasks;
begin
  select * into old from public.tasks where id = p_task for update;
  update public.tasks set execution_step = p_step, step_changed_at = public.sam_now(), updated_at = public.sam_now()
   where id = p_task and status in ('queued', 'delegated', 'in_progress')
     and (execution_step is null or execution_step < p_step);
  if not found then return false; end if;
  insert into public.task_events (task_id, project_id, owner_id, actor_type, actor_id, from_status, to_status,
                                  from_step, to_step, reason)
  values (old.id, old.project_id, old.owner_id, coalesce(public.sam_caller(), 'system'), public.sam_actor_id(),
          old.status, old.status, old.execution_step, p_step, p_reason);
  return true;
end $$;

create or replace function public.advance_task_step(p_task uuid, p_step public.task_step, p_reason text default null)
returns boolean language plpgsql security definer set search_path = '' as $$
declare t public.tasks;
begin
  select * into t from public.tasks where id = p_task;
  perform public.sam_authorize_task(t, array['owner', 'self']);
  return public.sam_task_step(p_task, p_step, p_reason);
end $$;

-- Titles: the message itself when ≤100 characters, else a truncation a model refines later.
create or replace function public.sam_initial_title(p_message text) returns text
language sql immutable set search_path = '' as $$
  select case when length(m) = 0 then 'Untitled task'
              when length(m) <= 100 then m
              else rtrim(left(m, 99)) || '…' end
  from (select btrim(regexp_replace(coalesce(p_message, ''), '\s+', ' ', 'g')) as m) s
$$;

-- A git ref name check (the subset of git check-ref-format SAM produces or accepts).
create or replace function public.sam_is_valid_git_ref(p_ref text) returns boolean
language sql immutable set search_path = '' as $$
  select p_ref is not null and length(p_ref) between 1 and 255
     and p_ref !~ '(\.\.|//|@\{|\\|[\x00-\x20\x7f~^:?*\[])'
     and p_ref !~ '(^[/.-]|/[.-]|[/.]$|\.lock$|\.lock/)'
     and p_ref <> '@'
$$;

-- sam/<up to 4 words>-<6 chars of the task id>, at most 60 characters, a valid ref.
create or replace function public.sam_branch_name(p_message text, p_task uuid) returns text
language sql immutable set search_path = '' as $$
  with words as (
    select w, ord from regexp_split_to_table(
      regexp_replace(lower(coalesce(p_message, '')), '[^a-z0-9\s-]', '', 'g'), '[\s-]+') with ordinality as s(w, ord)
    where w <> '' and w <> all (array['a', 'an', 'the', 'and', 'or', 'but', 'to', 'of', 'in', 'on', 'at', 'for',
      'with', 'by', 'from', 'into', 'is', 'are', 'be', 'it', 'this', 'that', 'these', 'those', 'please', 'can',
      'could', 'would', 'should', 'will', 'you', 'we', 'i', 'me', 'my', 'our', 'want', 'need', 'make', 'sure',
      'some', 'so', 'just', 'also', 'then', 'do', 'does', 'let', 'lets', 'us', 'get', 'have', 'has', 'up', 'as'])
  ), slug as (
    select string_agg(w, '-' order by ord) as s from (select w, ord from words order by ord limit 4) f
  )
  select 'sam/' || case when coalesce(s, '') = '' then 'task'
                        else rtrim(left(s, 60 - length('sam/') - 7), '-') end
         || '-' || right(replace(p_task::text, '-', ''), 6)
  from slug
$$;

create or replace function public.sam_notify(p_owner uuid, p_project uuid, p_task uuid, p_type public.notification_type,
  p_title text, p_body text, p_dedupe text default null, p_metadata jsonb default '{}') returns void
language sql security definer set search_path = '' as $$
  insert into public.notifications (owner_id, project_id, task_id, type, urgency, title, body, dedupe_key, metadata)
  values (p_owner, p_project, p_task, p_type,
          case p_type when 'needs_input' then 'high' when 'error' then 'high' when 'progress' then 'low'
                      else 'medium' end::public.urgency,
          left(p_title, case when p_type = 'needs_input' then 70 else 80 end), left(coalesce(p_body, ''), 500),
          p_dedupe, p_metadata)
  on conflict (dedupe_key) do nothing
$$;

create or replace function public.sam_enqueue_job(p_kind text, p_owner uuid, p_project uuid, p_task uuid,
  p_node uuid, p_payload jsonb, p_dedupe text) returns void
language sql security definer set search_path = '' as $$
  insert into public.orchestrator_jobs (kind, owner_id, project_id, task_id, node_id, payload, dedupe_key, max_attempts)
  values (p_kind, p_owner, p_project, p_task, p_node, coalesce(p_payload, '{}'), p_dedupe,
          public.setting_int('job_max_attempts', p_project))
  on conflict (dedupe_key) do nothing
$$;

-- Creates a queued task with its chat session and first message (shared by submit, dispatch,
-- retry and fork). Caller has authorized and locked whatever it needs.
create or replace function public.sam_create_task(p_project public.projects, p_message text, p_options jsonb,
  p_trigger public.task_trigger, p_parent uuid, p_source uuid, p_depth integer, p_dispatcher uuid)
returns public.tasks language plpgsql security definer set search_path = '' as $$
declare t public.tasks; sid uuid := extensions.gen_random_uuid(); tid uuid := extensions.gen_random_uuid();
begin
  if p_message is null or length(btrim(p_message)) = 0 or length(p_message) > 16000 then
    raise exception 'a task message is 1 to 16000 characters' using errcode = '22023';
  end if;
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

-- Flow 1: a user's chat message becomes a queued task, placed on a node right away.
create or replace function public.submit_task(p_project uuid, p_message text, p_options jsonb default '{}')
returns jsonb language plpgsql security definer set search_path = '' as $$
declare p public.projects; t public.tasks; trig public.task_trigger := 'user';
begin
  select * into p from public.projects where id = p_project;
  if p.id is null or not (public.sam_caller() = 'system' or p.owner_id = auth.uid() and public.sam_caller() = 'user') then
    raise exception 'not allowed to submit to project %', p_project using errcode = '42501';
  end if;
  if public.sam_caller() = 'system' and p_options ? 'triggeredBy' then
    trig := (p_options ->> 'triggeredBy')::public.task_trigger;
  end if;
  t := public.sam_create_task(p, p_message, coalesce(p_options, '{}'), trig, null, null, 0, null);
  perform public.place_task(t.id);
  select * into t from public.tasks where id = t.id;
  return jsonb_build_object('taskId', t.id, 'sessionId', t.chat_session_id, 'branchName', t.branch,
                            'title', t.title, 'status', t.status, 'executionStep', t.execution_step);
end $$;
