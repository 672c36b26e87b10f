-- Control plane, part 9: the task lifecycle functions users, agents and workspaces call:
-- idea → ready → run, complete, fail, cancel, re-run, retry, fork, and sub-task dispatch.

-- What a task holds is given back when it ends: agent tokens revoked, an unused warm claim
-- released (back to warm with a fresh timer), live workspaces stopped.
create or replace function public.sam_release_task(p_task uuid, p_reason text) returns void
language plpgsql security definer set search_path = '' as $$
declare t public.tasks; w record;
begin
  select * into t from public.tasks where id = p_task;
  update public.tokens set revoked_at = public.sam_now(), revoked_reason = p_reason
   where task_id = p_task and kind = 'agent' and revoked_at is null;
  for w in select id from public.workspaces where task_id = p_task and status in ('creating', 'ready') loop
    perform public.sam_workspace_move(w.id, array['creating', 'ready']::public.workspace_status[], 'stopping', p_reason);
  end loop;
  if t.claimed_warm_node_id is not null
     and not exists (select 1 from public.workspaces where node_id = t.claimed_warm_node_id
                       and status in ('creating', 'ready', 'stopping')) then
    perform public.sam_node_go_warm(t.claimed_warm_node_id, 'claim released: ' || p_reason);
  end if;
end $$;

create or replace function public.ready_task(p_task uuid) returns boolean
language plpgsql security definer set search_path = '' as $$
declare t public.tasks;
begin
  select * into t from public.tasks where id = p_task;
  perform public.sam_authorize_task(t, array['owner']);
  return public.sam_task_move(p_task, array['draft']::public.task_status[], 'ready', null, 'idea ready');
end $$;

-- Re-run: failed or cancelled back to ready.
create or replace function public.rerun_task(p_task uuid) returns boolean
language plpgsql security definer set search_path = '' as $$
declare t public.tasks;
begin
  select * into t from public.tasks where id = p_task;
  perform public.sam_authorize_task(t, array['owner']);
  return public.sam_task_move(p_task, array['failed', 'cancelled']::public.task_status[], 'ready', null, 're-run');
end $$;

-- Run an idea: ready → queued, then placed.
create or replace function public.run_task(p_task uuid) returns boolean
language plpgsql security definer set search_path = '' as $$
declare t public.tasks; moved boolean;
begin
  select * into t from public.tasks where id = p_task;
  perform public.sam_authorize_task(t, array['owner']);
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

create or replace function public.complete_task(p_task uuid default null, p_summary text default null,
  p_pr_url text default null, p_evidence jsonb default null) returns boolean
language plpgsql security definer set search_path = '' as $$
declare t public.tasks; moved boolean;
begin
  select * into t from public.tasks where id = coalesce(p_task, public.current_agent_task_id(),
    (select task_id from public.workspaces where id = public.current_workspace_id()));
  perform public.sam_authorize_task(t, array['owner', 'self']);
  if t.task_mode = 'conversation' then
    -- A conversation does not end itself: it waits for the human.
    moved := public.sam_task_step(t.id, 'awaiting_followup', 'agent finished its turn');
    if moved then
      perform public.sam_notify(t.owner_id, t.project_id, t.id, 'session_ended', t.title, coalesce(p_summary, ''),
                                'session_ended:' || t.id || ':' || extract(epoch from public.sam_now()));
    end if;
    return moved;
  end if;
  moved := public.sam_task_move(t.id, array['delegated', 'in_progress']::public.task_status[], 'completed', null,
                                left(p_summary, 200));
  if moved then
    update public.tasks set summary = left(p_summary, 10000), pr_url = coalesce(p_pr_url, pr_url),
           completion_evidence = p_evidence where id = t.id;
    perform public.sam_notify(t.owner_id, t.project_id, t.id, 'task_complete', t.title, coalesce(p_summary, ''),
                              'task_complete:' || t.id, jsonb_build_object('branch', t.branch, 'prUrl', p_pr_url));
  end if;
  return moved;
end $$;

create or replace function public.fail_task(p_task uuid, p_error text) returns boolean
language plpgsql security definer set search_path = '' as $$
declare t public.tasks; moved boolean;
begin
  select * into t from public.tasks where id = p_task;
  perform public.sam_authorize_task(t, array['owner', 'self', 'parent']);
  moved := public.sam_task_move(p_task, array['draft', 'ready', 'queued', 'delegated', 'in_progress']::public.task_status[],
                                'failed', null, left(p_error, 500));
  if moved then
    update public.tasks set error_message = left(p_error, 4000) where id = p_task;
    perform public.sam_release_task(p_task, 'task failed');
    if t.chat_session_id is not null then
      insert into public.messages (session_id, project_id, owner_id, message_id, role, content, origin)
      values (t.chat_session_id, t.project_id, t.owner_id, 'task-failed', 'system',
              format('Task failed at step "%s": %s', coalesce(t.execution_step::text, t.status::text), p_error), 'system')
      on conflict (session_id, message_id) do nothing;
      update public.chat_sessions set status = 'failed', ended_at = public.sam_now()
       where id = t.chat_session_id and status = 'active';
    end if;
    perform public.sam_notify(t.owner_id, t.project_id, t.id, 'error', t.title, p_error, 'task_failed:' || t.id);
  end if;
  return moved;
end $$;

-- Cancel: by the owner, or by the agent of the direct parent (stop_subtask).
create or replace function public.cancel_task(p_task uuid, p_reason text default null) returns boolean
language plpgsql security definer set search_path = '' as $$
declare t public.tasks; moved boolean;
begin
  select * into t from public.tasks where id = p_task;
  perform public.sam_authorize_task(t, array['owner', 'parent']);
  moved := public.sam_task_move(p_task, array['draft', 'ready', 'queued', 'delegated', 'in_progress', 'failed']::public.task_status[],
                                'cancelled', null, coalesce(p_reason, 'cancelled'));
  if moved then
    perform public.sam_release_task(p_task, 'task cancelled');
    update public.chat_sessions set status = 'ended', ended_at = public.sam_now()
     where id = t.chat_session_id and status = 'active';
  end if;
  return moved;
end $$;

-- Locks the project and enforces the dispatch limits for a new child of p_parent at p_depth.
create or replace function public.sam_check_dispatch_limits(p_project uuid, p_parent uuid, p_depth integer) returns void
language plpgsql security definer set search_path = '' as $$
begin
  perform 1 from public.projects where id = p_project for no key update;
  if p_depth > public.setting_int('max_dispatch_depth', p_project) then
    raise exception 'dispatch depth % exceeds the limit of %', p_depth, public.setting_int('max_dispatch_depth', p_project)
      using errcode = '54000';
  end if;
  if (select count(*) from public.tasks where parent_task_id = p_parent
        and status in ('queued', 'delegated', 'in_progress')) >= public.setting_int('max_active_children', p_project) then
    raise exception 'task % already has % active sub-tasks', p_parent, public.setting_int('max_active_children', p_project)
      using errcode = '54000';
  end if;
  if (select count(*) from public.tasks where project_id = p_project and dispatch_depth > 0
        and status in ('queued', 'delegated', 'in_progress')) >= public.setting_int('max_active_dispatched', p_project) then
    raise exception 'project % already has % active dispatched tasks', p_project,
      public.setting_int('max_active_dispatched', p_project) using errcode = '54000';
  end if;
end $$;

-- MCP dispatch_task: an agent hands sub-work to a new agent. Limits hold under concurrency because
-- every dispatch in a project serializes on the project row before counting.
create or replace function public.dispatch_task(p_description text, p_options jsonb default '{}')
returns jsonb language plpgsql security definer set search_path = '' as $$
declare a public.tokens; parent public.tasks; p public.projects; t public.tasks;
begin
  if public.sam_caller() = 'agent' then
    select * into a from public.sam_token('agent');
    select * into parent from public.tasks where id = a.task_id and project_id = a.project_id;
  elsif public.sam_caller() = 'system' then
    select * into parent from public.tasks where id = (p_options ->> 'parentTaskId')::uuid;
  end if;
  if parent.id is null then
    raise exception 'only an agent working on a task may dispatch' using errcode = '42501';
  end if;
  perform public.sam_check_dispatch_limits(parent.project_id, parent.id, parent.dispatch_depth + 1);
  select * into parent from public.tasks where id = parent.id;
  if not public.is_active(parent.status) then
    raise exception 'task % is % and cannot dispatch', parent.id, parent.status using errcode = '55000';
  end if;
  select * into p from public.projects where id = parent.project_id;
  t := public.sam_create_task(p, p_description, coalesce(p_options, '{}') - 'parentTaskId', 'mcp', parent.id, null,
                              parent.dispatch_depth + 1, a.agent_session_id);
  perform public.place_task(t.id);
  return jsonb_build_object('taskId', t.id, 'sessionId', t.chat_session_id, 'branchName', t.branch, 'title', t.title,
                            'status', 'queued', 'taskMode', t.task_mode, 'dispatchDepth', t.dispatch_depth);
end $$;

-- Retry: a new attempt of a failed or cancelled task (owner), or of a sub-task by the agent of its
-- parent (retry_subtask: an active child is failed first). triggered_by = 'retry'. Repeating returns
-- the attempt already running.
create or replace function public.retry_task(p_task uuid, p_description text default null) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare s public.tasks; p public.projects; t public.tasks; by_parent boolean := public.sam_caller() = 'agent';
begin
  select * into s from public.tasks where id = p_task;
  perform public.sam_authorize_task(s, array['owner', 'parent']);
  select * into t from public.tasks where source_task_id = s.id and triggered_by = 'retry'
     and not public.is_terminal(status) order by created_at desc limit 1;
  if t.id is not null then
    return jsonb_build_object('taskId', t.id, 'sessionId', t.chat_session_id, 'branchName', t.branch, 'repeated', true);
  end if;
  if by_parent and not public.is_terminal(s.status) then
    perform public.fail_task(s.id, 'Stopped by parent for retry');
  elsif s.status not in ('failed', 'cancelled') then
    raise exception 'task % is % and cannot be retried', s.id, s.status using errcode = '55000';
  end if;
  if s.parent_task_id is not null and by_parent then
    perform public.sam_check_dispatch_limits(s.project_id, s.parent_task_id, s.dispatch_depth);
  end if;
  select * into p from public.projects where id = s.project_id;
  t := public.sam_create_task(p, coalesce(p_description, s.description || E'\n\nNote: previous attempt (' || s.id
         || ') ended with status ''' || s.status || '''.'),
       jsonb_build_object('taskMode', s.task_mode, 'agentType', s.agent_type, 'vmSize', s.vm_size, 'priority', s.priority),
       'retry', case when by_parent then s.parent_task_id else s.id end, s.id, s.dispatch_depth,
       public.current_agent_session_id());
  perform public.place_task(t.id);
  return jsonb_build_object('taskId', t.id, 'sessionId', t.chat_session_id, 'branchName', t.branch, 'repeated', false);
end $$;

-- Fork: a new conversation continuing from a task's branch. triggered_by = 'fork'.
create or replace function public.fork_task(p_task uuid, p_message text, p_options jsonb default '{}') returns jsonb
language plpgsql security definer set search_path = '' as $$
declare s public.tasks; p public.projects; t public.tasks;
begin
  select * into s from public.tasks where id = p_task;
  perform public.sam_authorize_task(s, array['owner']);
  if s.status in ('draft', 'ready') then
    raise exception 'task % has not run and cannot be forked', s.id using errcode = '55000';
  end if;
  select * into p from public.projects where id = s.project_id;
  t := public.sam_create_task(p, p_message,
       jsonb_build_object('baseBranch', coalesce(s.branch, p.default_branch), 'agentType', s.agent_type,
                          'vmSize', s.vm_size) || coalesce(p_options, '{}'),
       'fork', s.id, s.id, s.dispatch_depth, null);
  perform public.place_task(t.id);
  return jsonb_build_object('taskId', t.id, 'sessionId', t.chat_session_id, 'branchName', t.branch);
end $$;
