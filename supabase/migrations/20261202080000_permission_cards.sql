-- Permission cards: an agent whose profile's permission mode is `ask` asks before it acts. The
-- vm-agent turns ACP `session/request_permission` into a pending `permission_requests` row and a
-- card in the task's chat (message 'permission:<id>'); the owner answers it (allow once, always,
-- reject) and the answer reaches the vm-agent as a `permission_answer` command on its long-poll. A
-- request nobody answers within the `permission_request_ttl` setting is refused, and the chat says
-- so ('permission:<id>:outcome'). New node command kinds: `permission_answer` and `resume_agent`
-- (a task paused at its budget goes on: 20261202080100_budgets.sql). Safe to run twice.

alter type public.lifecycle_entity add value if not exists 'permission_request';

insert into public.settings (key, value, kind, description, min_value, max_value, project_override) values
  ('permission_request_ttl', '"10 minutes"', 'interval',
   'how long an agent''s permission request waits for the user before it is refused', '"1 second"', '"1 day"', 'any')
on conflict (key) do nothing;

do $$
begin
  if exists (select 1 from pg_constraint where conrelid = 'public.node_commands'::regclass
               and conname = 'node_commands_kind_check'
               and pg_get_constraintdef(oid) not like '%permission_answer%') then
    alter table public.node_commands drop constraint node_commands_kind_check;
  end if;
  if not exists (select 1 from pg_constraint where conrelid = 'public.node_commands'::regclass
                   and conname = 'node_commands_kind_check') then
    alter table public.node_commands add constraint node_commands_kind_check check (kind in (
      'create_workspace', 'stop_workspace', 'start_agent', 'prompt', 'cancel_prompt', 'stop_agent', 'shutdown',
      'permission_answer', 'resume_agent'));
  end if;
end $$;

create table if not exists public.permission_requests (
  id uuid primary key default extensions.gen_random_uuid(),
  project_id uuid not null references public.projects (id) on delete cascade,
  owner_id uuid not null references auth.users (id) on delete cascade,
  task_id uuid references public.tasks (id) on delete cascade,
  chat_session_id uuid references public.chat_sessions (id) on delete set null,
  agent_session_id uuid not null references public.agent_sessions (id) on delete cascade,
  workspace_id uuid references public.workspaces (id) on delete set null,
  tool_call_id text check (tool_call_id is null or length(tool_call_id) between 1 and 200),
  -- What the agent wants to do, in its words (the tool call's title), and how (its kind and input).
  title text not null check (length(title) between 1 and 500),
  tool_kind text check (tool_kind is null or length(tool_kind) <= 32),
  detail text not null default '' check (length(detail) <= 2000),
  status text not null default 'pending'
    check (status in ('pending', 'allowed_once', 'allowed_always', 'rejected', 'timed_out', 'cancelled')),
  expires_at timestamptz not null,
  answered_by uuid,
  answered_at timestamptz,
  created_at timestamptz not null default public.sam_now()
);
create index if not exists permission_requests_pending_idx on public.permission_requests (expires_at)
  where status = 'pending';
create index if not exists permission_requests_owner_idx on public.permission_requests (owner_id);
create index if not exists permission_requests_project_idx on public.permission_requests (project_id);
create index if not exists permission_requests_task_idx on public.permission_requests (task_id);
create index if not exists permission_requests_session_idx on public.permission_requests (agent_session_id);

alter table public.permission_requests enable row level security;
revoke all on public.permission_requests from anon, authenticated, sam_node, sam_workspace, sam_agent;
grant all on public.permission_requests to service_role;
grant select on public.permission_requests to authenticated;
drop policy if exists "Owners can read their agents' permission requests" on public.permission_requests;
create policy "Owners can read their agents' permission requests" on public.permission_requests
  for select to authenticated using (owner_id = (select auth.uid()));

-- SAM's own chat lines: 'permission:<id>' (the card) and 'permission:<id>:outcome' join the
-- reserved ids, and so do the budget cards ('budget:<task>:<n>' …), so a workspace cannot forge them.
create or replace function public.sam_is_reserved_message_id(p_id text) returns boolean
language sql immutable set search_path = '' as $$
  select p_id in ('initial', 'task-started', 'task-failed')
      or p_id ~ '^(question|answer|user|directive|progress|agent|permission|budget):'
$$;

-- The outcome line under a card, in words.
create or replace function public.sam_permission_outcome_note(r public.permission_requests, p_status text) returns void
language plpgsql security definer set search_path = '' as $$
begin
  if r.chat_session_id is null then return; end if;
  insert into public.messages (session_id, project_id, owner_id, message_id, role, content, tool_metadata, origin)
  values (r.chat_session_id, r.project_id, r.owner_id, 'permission:' || r.id || ':outcome', 'system',
          case p_status
            when 'allowed_once' then 'Allowed once: ' || r.title
            when 'allowed_always' then 'Always allowed in this session: ' || r.title
            when 'rejected' then 'Rejected: ' || r.title
            when 'timed_out' then format('No answer within %s, so the agent was refused: %s',
                                         public.setting_interval('permission_request_ttl', r.project_id), r.title)
            else 'The agent no longer waits for this answer: ' || r.title end,
          jsonb_build_object('kind', 'permission_outcome', 'permissionRequestId', r.id, 'outcome', p_status),
          'sam')
  on conflict (session_id, message_id) do nothing;
end $$;

-- The vm-agent asks, for one of its agent sessions: a pending request, a card in the chat, a
-- high-urgency notification. Answers {requestId, expiresAt}.
create or replace function public.request_agent_permission(p_agent_session uuid, p_request jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare a public.agent_sessions; t public.tasks; r public.permission_requests;
  title text := left(coalesce(nullif(btrim(p_request ->> 'title'), ''), 'Use a tool'), 500);
begin
  select * into a from public.agent_sessions where id = p_agent_session;
  if a.id is null or not coalesce(public.sam_caller() = 'system' or a.workspace_id = public.current_workspace_id(), false) then
    raise exception 'not allowed to ask for agent session %', p_agent_session using errcode = '42501';
  end if;
  if public.is_terminal(a.status) then
    raise exception 'agent session % is %', a.id, a.status using errcode = '55000';
  end if;
  select * into t from public.tasks where id = a.task_id;
  insert into public.permission_requests (project_id, owner_id, task_id, chat_session_id, agent_session_id, workspace_id,
                                          tool_call_id, title, tool_kind, detail, expires_at)
  values (a.project_id, a.owner_id, a.task_id, a.chat_session_id, a.id, a.workspace_id,
          left(nullif(p_request ->> 'toolCallId', ''), 200), title, left(nullif(p_request ->> 'toolKind', ''), 32),
          left(coalesce(p_request ->> 'detail', ''), 2000),
          public.sam_now() + public.setting_interval('permission_request_ttl', a.project_id))
  returning * into r;
  insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, to_state, actor_type, actor_id, reason)
  values ('permission_request', r.id, r.owner_id, r.project_id, 'pending', coalesce(public.sam_caller(), 'system'),
          public.sam_actor_id(), left(title, 200));
  if r.chat_session_id is not null then
    insert into public.messages (session_id, project_id, owner_id, message_id, role, content, tool_metadata, origin)
    values (r.chat_session_id, r.project_id, r.owner_id, 'permission:' || r.id, 'system', 'The agent asks to: ' || title,
            jsonb_build_object('kind', 'permission_request', 'permissionRequestId', r.id, 'title', title,
                               'toolKind', r.tool_kind, 'detail', r.detail, 'expiresAt', r.expires_at),
            'sam')
    on conflict (session_id, message_id) do nothing;
  end if;
  perform public.sam_notify(r.owner_id, r.project_id, r.task_id, 'needs_input', coalesce(t.title, 'Permission'),
                            'The agent asks to: ' || title, 'permission:' || r.id,
                            jsonb_build_object('permissionRequestId', r.id));
  return jsonb_build_object('requestId', r.id, 'expiresAt', r.expires_at);
end $$;

-- The owner answers a pending request once: allow_once, allow_always or reject. The same answer
-- again changes nothing (false); another answer, or one after the request ended, is 55000.
create or replace function public.answer_permission_request(p_request uuid, p_decision text) returns boolean
language plpgsql security definer set search_path = '' as $$
declare r public.permission_requests;
  st text := case p_decision when 'allow_once' then 'allowed_once' when 'allow_always' then 'allowed_always'
                             when 'reject' then 'rejected' end;
begin
  select * into r from public.permission_requests where id = p_request for update;
  if r.id is null or not coalesce(public.sam_caller() = 'system'
                                   or (public.sam_caller() = 'user' and r.owner_id = auth.uid()), false) then
    raise exception 'not allowed to answer permission request %', p_request using errcode = '42501';
  end if;
  if st is null then
    raise exception 'an answer is allow_once, allow_always or reject' using errcode = '22023';
  end if;
  if r.status <> 'pending' then
    if r.status = st then return false; end if;
    raise exception 'permission request % is already %', r.id, replace(r.status, '_', ' ') using errcode = '55000';
  end if;
  if r.expires_at <= public.sam_now() then
    raise exception 'permission request % expired', r.id using errcode = '55000';
  end if;
  update public.permission_requests set status = st, answered_by = auth.uid(), answered_at = public.sam_now()
   where id = r.id and status = 'pending';
  insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, from_state, to_state, actor_type, actor_id)
  values ('permission_request', r.id, r.owner_id, r.project_id, 'pending', st, coalesce(public.sam_caller(), 'system'),
          public.sam_actor_id());
  perform public.sam_permission_outcome_note(r, st);
  insert into public.node_commands (node_id, owner_id, workspace_id, kind, payload, dedupe_key)
  select w.node_id, r.owner_id, w.id, 'permission_answer',
         jsonb_build_object('agentSessionId', r.agent_session_id, 'requestId', r.id, 'decision', p_decision),
         'permission:' || r.id
    from public.workspaces w
   where w.id = r.workspace_id and w.node_id is not null and not public.is_terminal(w.status)
  on conflict (dedupe_key) do nothing;
  return true;
end $$;

-- A pending request ends without an answer: `timed_out` (the vm-agent's timer, or the sweep once it
-- expired) or `cancelled` (the agent's turn ended first). By the request's workspace or the system.
create or replace function public.close_permission_request(p_request uuid, p_outcome text) returns boolean
language plpgsql security definer set search_path = '' as $$
declare r public.permission_requests;
begin
  select * into r from public.permission_requests where id = p_request for update;
  if r.id is null or not coalesce(public.sam_caller() = 'system'
                                   or (r.workspace_id is not null and r.workspace_id = public.current_workspace_id()), false) then
    raise exception 'not allowed to close permission request %', p_request using errcode = '42501';
  end if;
  if p_outcome is null or p_outcome not in ('timed_out', 'cancelled') then
    raise exception 'a request closes as timed_out or cancelled' using errcode = '22023';
  end if;
  update public.permission_requests set status = p_outcome where id = r.id and status = 'pending';
  if not found then return false; end if;
  insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, from_state, to_state, actor_type, actor_id)
  values ('permission_request', r.id, r.owner_id, r.project_id, 'pending', p_outcome, coalesce(public.sam_caller(), 'system'),
          public.sam_actor_id());
  perform public.sam_permission_outcome_note(r, p_outcome);
  return true;
end $$;

-- Requests past their expiry time out (and the machine is told, in case its own timer did not
-- fire); requests of agent sessions that ended are cancelled.
create or replace function public.sweep_permission_requests() returns integer
language plpgsql security definer set search_path = '' as $$
declare r record; n integer := 0;
begin
  for r in select p.id, p.owner_id, p.workspace_id, p.agent_session_id,
                  case when p.expires_at <= public.sam_now() then 'timed_out' else 'cancelled' end as outcome
             from public.permission_requests p join public.agent_sessions a on a.id = p.agent_session_id
            where p.status = 'pending' and (p.expires_at <= public.sam_now() or public.is_terminal(a.status))
            order by p.expires_at limit public.setting_int('sweep_batch') for update of p skip locked loop
    if public.close_permission_request(r.id, r.outcome) then
      n := n + 1;
      insert into public.node_commands (node_id, owner_id, workspace_id, kind, payload, dedupe_key)
      select w.node_id, r.owner_id, w.id, 'permission_answer',
             jsonb_build_object('agentSessionId', r.agent_session_id, 'requestId', r.id, 'decision', r.outcome),
             'permission:' || r.id
        from public.workspaces w
       where w.id = r.workspace_id and w.node_id is not null and not public.is_terminal(w.status)
      on conflict (dedupe_key) do nothing;
    end if;
  end loop;
  return n;
end $$;

revoke execute on all functions in schema public from public, anon;
grant execute on all functions in schema public to service_role;
grant execute on function public.answer_permission_request(uuid, text) to authenticated;
grant execute on function public.request_agent_permission(uuid, jsonb), public.close_permission_request(uuid, text)
  to sam_workspace;

create or replace function pg_temp.ensure_cron(p_name text, p_schedule text, p_command text) returns void
language plpgsql as $$
begin
  if not exists (select 1 from cron.job where jobname = p_name and schedule = p_schedule and command = p_command) then
    perform cron.schedule(p_name, p_schedule, p_command);
  end if;
end $$;
select pg_temp.ensure_cron('sam-sweep-permission-requests', '* * * * *', 'select public.sweep_permission_requests()');
