-- Controls on a task from the chat: stop with a grace period for the agent to commit, fork from a
-- chosen point of the conversation, and run a new task on a chosen node of the user's.
--
-- stop_task(task, grace_seconds, reason): without grace (or when no agent runs yet) the task is
-- cancelled at once (cancel_task). With grace and a live agent, the agent is told to commit and
-- finish (a `stop_warning` directive from the user, delivered as a prompt the way a follow-up is:
-- after its current turn), the chat shows the request, and the task is cancelled when the grace
-- ends (sweep_task_stops, every minute) unless it finished first. Repeating it never sends a second
-- warning; a shorter grace moves the deadline earlier, none cancels at once.
--
-- fork_task(task, message, {fromMessageId}): the fork's chat starts with the source conversation up
-- to and including that message (a 'fork-context' message, shown collapsed), and the agent's first
-- prompt carries it before the user's new message.
--
-- submit_task(project, message, {nodeId}): the task runs on that node of the caller's; only an idle
-- (warm, heartbeating) node takes it, else the submission is refused. Safe to run twice.

alter table public.tasks add column if not exists stop_requested_at timestamptz;
alter table public.tasks add column if not exists stop_deadline timestamptz;
alter table public.tasks add column if not exists stop_reason text;
do $$ begin
  alter table public.tasks add constraint tasks_stop_reason_check check (stop_reason is null or length(stop_reason) <= 500);
exception when duplicate_object then null; end $$;
comment on column public.tasks.stop_deadline is
  'A graceful stop: when the task is cancelled unless it finished before (stop_task, sweep_task_stops).';
create index if not exists tasks_stop_deadline_idx on public.tasks (stop_deadline)
  where stop_deadline is not null and status in ('queued', 'delegated', 'in_progress');

insert into public.settings (key, value, kind, description, min_value, max_value, project_override) values
  ('max_stop_grace_seconds', '300', 'integer', 'the longest grace a stop gives the agent to commit and finish',
   '0', '3600', 'lower')
on conflict (key) do nothing;

create or replace function public.sam_stop_view(p_task uuid) returns jsonb
language sql stable security definer set search_path = '' as $$
  select jsonb_build_object('taskId', t.id, 'status', t.status, 'stopping', t.stop_deadline is not null
           and public.is_active(t.status), 'deadline', t.stop_deadline, 'requestedAt', t.stop_requested_at)
    from public.tasks t where t.id = p_task
$$;

create or replace function public.stop_task(p_task uuid, p_grace_seconds integer default 0, p_reason text default null)
returns jsonb language plpgsql security definer set search_path = '' as $$
declare
  t public.tasks; a public.agent_sessions; did uuid; now_ timestamptz := public.sam_now();
  grace integer := coalesce(p_grace_seconds, 0); most integer;
  reason text := coalesce(nullif(btrim(p_reason), ''), 'stopped by the user');
begin
  select * into t from public.tasks where id = p_task for update;
  perform public.sam_authorize_task(t, array['owner']);
  most := public.setting_int('max_stop_grace_seconds', t.project_id);
  if grace < 0 or grace > most then
    raise exception 'a stop''s grace is 0 to % seconds', most using errcode = '22023';
  end if;
  if length(reason) > 500 then raise exception 'a stop reason is at most 500 characters' using errcode = '22023'; end if;
  if public.is_terminal(t.status) then
    -- Already over (it finished, failed or was stopped): nothing to stop.
    return public.sam_stop_view(t.id) || jsonb_build_object('changed', false);
  end if;
  if grace > 0 and public.is_active(t.status) then
    select * into a from public.agent_sessions s
     where s.task_id = t.id and s.status in ('idle', 'prompting', 'recovering')
       and exists (select 1 from public.workspaces w where w.id = s.workspace_id and not public.is_terminal(w.status))
     order by s.created_at desc limit 1;
  end if;
  if a.id is null then
    -- No grace asked, or no agent to wrap up: cancelled now.
    perform public.cancel_task(t.id, reason);
    return public.sam_stop_view(t.id) || jsonb_build_object('changed', true);
  end if;
  if t.stop_deadline is not null then
    -- Already stopping: no second warning; a shorter grace brings the end forward.
    update public.tasks set stop_deadline = least(stop_deadline, now_ + make_interval(secs => grace)), updated_at = now_
     where id = t.id and stop_deadline > now_ + make_interval(secs => grace);
    return public.sam_stop_view(t.id) || jsonb_build_object('changed', found);
  end if;
  update public.tasks set stop_requested_at = now_, stop_deadline = now_ + make_interval(secs => grace),
         stop_reason = reason, updated_at = now_
   where id = t.id;
  perform public.sam_task_note(t, format('stop requested with %s s of grace: %s', grace, reason));
  insert into public.directives (project_id, owner_id, task_id, kind, content, metadata)
  values (t.project_id, t.owner_id, t.id, 'stop_warning', reason,
          jsonb_build_object('by', 'user', 'graceSeconds', grace))
  returning id into did;
  perform public.sam_chat_note(t, 'directive:' || did, 'system',
    format('Stop requested (%s). The agent has %s seconds to commit its work and finish; then the task is cancelled.',
           reason, grace),
    jsonb_build_object('kind', 'stop_request', 'directiveId', did, 'graceSeconds', grace,
                       'deadline', now_ + make_interval(secs => grace)), 'sam');
  insert into public.node_commands (node_id, owner_id, workspace_id, kind, payload, dedupe_key)
  select w.node_id, t.owner_id, w.id, 'prompt',
         jsonb_build_object('agentSessionId', a.id, 'messageId', 'directive:' || did, 'directiveId', did,
           'content', format('The user is stopping this task (%s). You have %s seconds: commit your work now '
                             || 'on the current branch (git add -A, then git commit) and finish. After that the '
                             || 'task is cancelled.', reason, grace)),
         'directive:' || did
    from public.workspaces w where w.id = a.workspace_id and w.node_id is not null
  on conflict (dedupe_key) do nothing;
  perform public.sam_touch_activity(a.workspace_id);
  return public.sam_stop_view(t.id) || jsonb_build_object('changed', true);
end $$;

-- Graceful stops whose grace ended: cancelled (a task that finished in time is left alone).
create or replace function public.sweep_task_stops() returns integer
language plpgsql security definer set search_path = '' as $$
declare r record; n integer := 0;
begin
  for r in select id, stop_reason from public.tasks
            where stop_deadline <= public.sam_now() and status in ('queued', 'delegated', 'in_progress')
            order by stop_deadline limit public.setting_int('sweep_batch') for update skip locked loop
    begin
      if public.cancel_task(r.id, coalesce(r.stop_reason, 'stopped by the user') || ' (grace ended)') then
        n := n + 1;
      end if;
    exception when others then
      raise warning 'sweep_task_stops: task % skipped: % (SQLSTATE %)', r.id, sqlerrm, sqlstate;
    end;
  end loop;
  return n;
end $$;

-- The conversation of a session up to and including message p_upto, as text (user and agent
-- messages; consecutive records of one speaker joined), its most recent 60,000 characters.
create or replace function public.sam_conversation_text(p_session uuid, p_upto bigint) returns text
language sql stable security definer set search_path = '' as $$
  with src as (
    select m.id, m.content, case when m.role = 'user' then 'User' else 'Agent' end as who
      from public.messages m
     where m.session_id = p_session and m.id <= p_upto and m.role in ('user', 'assistant')
       and m.message_id <> 'fork-context' and coalesce(m.tool_metadata ->> 'echo', '') <> 'user'),
  marked as (
    select *, case when who is distinct from lag(who) over (order by id) then 1 else 0 end as turn_start from src),
  grouped as (select *, sum(turn_start) over (order by id) as turn from marked),
  turns as (select turn, min(who) || ': ' || string_agg(content, '' order by id) as block from grouped group by turn),
  whole as (select string_agg(block, E'\n\n' order by turn) as body from turns)
  select case when length(body) > 60000 then '…' || right(body, 60000) else body end from whole
$$;

create or replace function public.fork_task(p_task uuid, p_message text, p_options jsonb default '{}')
returns jsonb language plpgsql security definer set search_path = '' as $$
declare s public.tasks; p public.projects; t public.tasks; upto bigint; convo text;
begin
  select * into s from public.tasks where id = p_task;
  perform public.sam_authorize_task(s, array['owner']);
  if s.status in ('draft', 'ready') then
    raise exception 'task % has not run and cannot be forked', s.id using errcode = '55000';
  end if;
  if coalesce(p_options, '{}') ? 'fromMessageId' then
    if jsonb_typeof(p_options -> 'fromMessageId') <> 'number' then
      raise exception 'fromMessageId is a message id (a number)' using errcode = '22023';
    end if;
    select m.id into upto from public.messages m
     where m.id = (p_options ->> 'fromMessageId')::bigint and m.session_id = s.chat_session_id;
    if upto is null then
      raise exception 'message % is not part of task %''s conversation', p_options ->> 'fromMessageId', s.id
        using errcode = '22023';
    end if;
  end if;
  select * into p from public.projects where id = s.project_id;
  t := public.sam_create_task(p, p_message,
       jsonb_build_object('baseBranch', coalesce(s.branch, p.default_branch), 'agentType', s.agent_type,
                          'vmSize', s.vm_size) || (coalesce(p_options, '{}') - 'fromMessageId'),
       'fork', s.id, s.id, s.dispatch_depth, null);
  if upto is not null then
    convo := public.sam_conversation_text(s.chat_session_id, upto);
    insert into public.messages (session_id, project_id, owner_id, message_id, role, content, tool_metadata, origin)
    values (t.chat_session_id, t.project_id, t.owner_id, 'fork-context', 'user',
            format('This task continues an earlier conversation (task %s), forked after one of its messages. '
                   || 'The work so far is on branch %s, where this task starts. The conversation up to that point:'
                   || E'\n\n%s', s.id, coalesce(s.branch, p.default_branch), coalesce(convo, '(no messages)')),
            jsonb_build_object('kind', 'fork_context', 'sourceTaskId', s.id, 'fromMessageId', upto), 'system');
    perform public.sam_task_note(t, format('forked from task %s after message %s', s.id, upto));
  end if;
  perform public.place_task(t.id);
  return jsonb_build_object('taskId', t.id, 'sessionId', t.chat_session_id, 'branchName', t.branch);
end $$;

-- The workspace's bootstrap, as before; a fork's first prompt carries the conversation it continues.
create or replace function public.node_workspace_bootstrap(p_workspace uuid) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare nid uuid := public.current_node_id(); w public.workspaces; t public.tasks; p public.projects; prompt text;
  context text;
begin
  if nid is null then raise exception 'a node token is required' using errcode = '42501'; end if;
  select * into w from public.workspaces where id = p_workspace;
  if w.id is null or w.node_id is distinct from nid then
    raise exception 'not allowed to act on workspace %', p_workspace using errcode = '42501';
  end if;
  if w.status not in ('creating', 'ready') then return null; end if;
  select * into t from public.tasks where id = w.task_id;
  select * into p from public.projects where id = w.project_id;
  select m.content into prompt from public.messages m
   where m.session_id = w.chat_session_id and m.message_id = 'initial';
  select m.content into context from public.messages m
   where m.session_id = w.chat_session_id and m.message_id = 'fork-context' and m.origin = 'system';
  prompt := coalesce(prompt, t.description, '');
  if context is not null then
    prompt := context || E'\n\n---\n\nThe user''s new message:\n\n' || prompt;
  end if;
  return jsonb_build_object(
    'token', public.issue_workspace_token(w.id),
    'workspace', jsonb_build_object(
      'workspaceId', w.id, 'projectId', w.project_id, 'taskId', w.task_id, 'chatSessionId', w.chat_session_id,
      'repository', p.repository, 'repoProvider', p.repo_provider, 'defaultBranch', p.default_branch,
      'baseBranch', coalesce(w.base_branch, p.default_branch), 'branch', w.branch,
      'workspaceProfile', w.workspace_profile, 'lightweight', w.workspace_profile = 'lightweight',
      'agentType', coalesce(t.agent_type, p.default_agent_type), 'taskMode', coalesce(t.task_mode, 'task'),
      'title', t.title, 'initialPrompt', prompt));
end $$;

-- A new task placed on the node its owner chose: the node must be theirs, idle (warm) and alive.
-- The task records the node (and the node's machine, unless it is a machine the user brought).
create or replace function public.sam_place_on_node(p_task uuid, p_node uuid) returns uuid
language plpgsql security definer set search_path = '' as $$
declare t public.tasks; n public.nodes; now_ timestamptz := public.sam_now();
begin
  select * into t from public.tasks where id = p_task for update;
  select * into n from public.nodes where id = p_node for update;
  if n.id is null or n.owner_id is distinct from t.owner_id then
    raise exception 'node % is not one of yours', p_node using errcode = '42501';
  end if;
  if n.status <> 'warm' or n.warm_until <= now_
     or n.last_heartbeat_at is null or n.last_heartbeat_at <= now_ - public.setting_interval('heartbeat_stale', t.project_id) then
    raise exception 'node % is % and cannot take a task now: pick an idle node, or let SAM choose', coalesce(n.name, n.id::text),
      case when n.status = 'warm' then 'not responding' else n.status::text end using errcode = '55000';
  end if;
  perform public.sam_node_move(n.id, array['warm']::public.node_status[], 'active', 'claimed by task ' || p_task);
  update public.nodes set claimed_by_task_id = p_task where id = n.id;
  update public.tasks set claimed_warm_node_id = n.id, node_id = n.id, vm_size = n.vm_size,
         provider = case when n.provider = 'byo' then provider else n.provider end,
         location = case when n.provider = 'byo' then location else n.location end
   where id = p_task;
  perform public.sam_task_note(t, format('placed on the chosen node %s', n.id));
  perform public.sam_request_workspace(p_task, n.id);
  return n.id;
end $$;

create or replace function public.submit_task(p_project uuid, p_message text, p_options jsonb default '{}')
returns jsonb language plpgsql security definer set search_path = '' as $$
declare p public.projects; t public.tasks; trig public.task_trigger := 'user'; node_pick text;
begin
  select * into p from public.projects where id = p_project;
  if p.id is null or not (public.sam_caller() = 'system' or p.owner_id = auth.uid() and public.sam_caller() = 'user') then
    raise exception 'not allowed to submit to project %', p_project using errcode = '42501';
  end if;
  if public.sam_caller() = 'system' and p_options ? 'triggeredBy' then
    trig := (p_options ->> 'triggeredBy')::public.task_trigger;
  end if;
  node_pick := nullif(btrim(coalesce(p_options, '{}') ->> 'nodeId'), '');
  if node_pick is not null and node_pick !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    raise exception 'nodeId is a node''s id' using errcode = '22023';
  end if;
  t := public.sam_create_task(p, p_message, coalesce(p_options, '{}') - 'nodeId', trig, null, null, 0, null);
  if node_pick is not null then perform public.sam_place_on_node(t.id, node_pick::uuid); end if;
  perform public.place_task(t.id);
  select * into t from public.tasks where id = t.id;
  return jsonb_build_object('taskId', t.id, 'sessionId', t.chat_session_id, 'branchName', t.branch,
                            'title', t.title, 'status', t.status, 'executionStep', t.execution_step);
end $$;

revoke execute on all functions in schema public from public, anon;
grant execute on all functions in schema public to service_role;
grant execute on function public.stop_task(uuid, integer, text) to authenticated;

create or replace function pg_temp.ensure_cron(p_name text, p_schedule text, p_command text) returns void
language plpgsql as $$
begin
  if not exists (select 1 from cron.job where jobname = p_name and schedule = p_schedule and command = p_command) then
    perform cron.schedule(p_name, p_schedule, p_command);
  end if;
end $$;
select pg_temp.ensure_cron('sam-sweep-task-stops', '* * * * *', 'select public.sweep_task_stops()');
