-- MCP tools for agents: directives between parent and child tasks (and answers to questions),
-- progress reports, ideas, full-text search over tasks, a per-token request window, and limit
-- refusals that name the limit they hit. Safe to run twice.

-- Directives: what a parent agent (or the human, through an answer) tells a task's agent. Durable
-- until the agent takes them with get_pending_messages.
create table if not exists public.directives (
  id uuid primary key default extensions.gen_random_uuid(),
  project_id uuid not null references public.projects (id) on delete cascade,
  owner_id uuid not null references auth.users (id) on delete cascade,
  task_id uuid not null references public.tasks (id) on delete cascade,
  from_task_id uuid references public.tasks (id) on delete set null,
  from_agent_session_id uuid references public.agent_sessions (id) on delete set null,
  kind text not null check (kind in ('message', 'stop_warning', 'answer')),
  content text not null check (length(content) between 1 and 32768),
  metadata jsonb not null default '{}',
  created_at timestamptz not null default public.sam_now(),
  delivered_at timestamptz
);
create index if not exists directives_pending_idx on public.directives (task_id, created_at) where delivered_at is null;
create index if not exists directives_project_idx on public.directives (project_id);
create index if not exists directives_owner_idx on public.directives (owner_id);
alter table public.directives enable row level security;
revoke all on public.directives from anon, authenticated, sam_node, sam_workspace, sam_agent;
grant select on public.directives to authenticated, sam_agent;
drop policy if exists "Owners can read their projects' directives" on public.directives;
create policy "Owners can read their projects' directives" on public.directives for select to authenticated
  using (owner_id = (select auth.uid()));
drop policy if exists "Agents can read directives sent to their task" on public.directives;
create policy "Agents can read directives sent to their task" on public.directives for select to sam_agent
  using (task_id = (select public.current_agent_task_id()));

-- Requests per agent token per minute (fixed windows), kept only for the current window.
create table if not exists public.mcp_request_windows (
  jti uuid not null references public.tokens (jti) on delete cascade,
  window_start timestamptz not null,
  requests integer not null default 0,
  primary key (jti, window_start)
);
alter table public.mcp_request_windows enable row level security;
revoke all on public.mcp_request_windows from anon, authenticated, sam_node, sam_workspace, sam_agent;

-- Tasks (and so ideas) are searchable by title and description.
alter table public.tasks add column if not exists search tsvector generated always as (
  setweight(to_tsvector('english', coalesce(title, '')), 'A') ||
  setweight(to_tsvector('english', coalesce(description, '')), 'B')) stored;
create index if not exists tasks_search_idx on public.tasks using gin (search);

-- Every MCP request: the agent token must still count (kind, expiry, revocation); its sliding
-- expiry moves on; it is counted against the per-minute limit.
create or replace function public.mcp_begin_request(p_limit integer default 120) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare a public.tokens; w timestamptz := date_trunc('minute', public.sam_now()); n integer;
begin
  select * into a from public.sam_token('agent');
  if a.jti is null then return jsonb_build_object('ok', false, 'reason', 'invalid_token'); end if;
  perform public.refresh_agent_token();
  delete from public.mcp_request_windows where jti = a.jti and window_start < w;
  insert into public.mcp_request_windows (jti, window_start, requests) values (a.jti, w, 1)
  on conflict (jti, window_start) do update set requests = public.mcp_request_windows.requests + 1
  returning requests into n;
  if n > p_limit then
    return jsonb_build_object('ok', false, 'reason', 'rate_limited',
      'retryAfterSeconds', greatest(1, ceil(extract(epoch from (w + interval '1 minute' - public.sam_now())))::integer));
  end if;
  return jsonb_build_object('ok', true, 'remaining', p_limit - n);
end $$;

-- A visible line in a task's chat, written by the system on someone's behalf.
create or replace function public.sam_chat_note(p_task public.tasks, p_message_id text, p_role public.message_role,
  p_content text, p_metadata jsonb, p_origin text) returns void
language sql security definer set search_path = '' as $$
  insert into public.messages (session_id, project_id, owner_id, message_id, role, content, tool_metadata, origin)
  select p_task.chat_session_id, p_task.project_id, p_task.owner_id, p_message_id, p_role, p_content, p_metadata, p_origin
  where p_task.chat_session_id is not null
  on conflict (session_id, message_id) do nothing
$$;

-- A parent agent (or the owner) sends a directive to a task's agent; it also shows in that
-- task's chat.
create or replace function public.send_directive(p_task uuid, p_kind text, p_content text, p_metadata jsonb default '{}')
returns uuid language plpgsql security definer set search_path = '' as $$
declare t public.tasks; did uuid; sender uuid := public.current_agent_task_id();
begin
  select * into t from public.tasks where id = p_task;
  perform public.sam_authorize_task(t, array['owner', 'parent']);
  if public.is_terminal(t.status) then
    raise exception 'task % is % and takes no more messages', t.id, t.status using errcode = '55000';
  end if;
  insert into public.directives (project_id, owner_id, task_id, from_task_id, from_agent_session_id, kind, content, metadata)
  values (t.project_id, t.owner_id, t.id, sender, public.current_agent_session_id(), p_kind, p_content, coalesce(p_metadata, '{}'))
  returning id into did;
  perform public.sam_chat_note(t, 'directive:' || did, 'user', p_content,
    jsonb_build_object('directiveId', did, 'kind', p_kind, 'fromTaskId', sender), 'parent');
  return did;
end $$;

-- The calling agent takes its undelivered directives, oldest first; each is returned once.
create or replace function public.take_pending_directives() returns jsonb
language plpgsql security definer set search_path = '' as $$
declare task uuid := public.current_agent_task_id(); result jsonb;
begin
  if task is null then raise exception 'an agent token is required' using errcode = '42501'; end if;
  with taken as (
    update public.directives d set delivered_at = public.sam_now()
    where d.id in (select id from public.directives where task_id = task and delivered_at is null
                   order by created_at, id for update skip locked)
    returning d.id, d.kind, d.content, d.metadata, d.from_task_id, d.created_at)
  select coalesce(jsonb_agg(jsonb_build_object('id', id, 'kind', kind, 'content', content, 'metadata', metadata,
                                               'fromTaskId', from_task_id, 'createdAt', created_at)
                            order by created_at, id), '[]')
  into result from taken;
  return result;
end $$;

-- An answered question becomes a directive for the task that asked it.
create or replace function public.sam_answer_to_directive() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if new.task_id is not null then
    insert into public.directives (project_id, owner_id, task_id, kind, content, metadata)
    values (new.project_id, new.owner_id, new.task_id, 'answer', new.answer,
            jsonb_build_object('humanInputRequestId', new.id, 'question', new.context, 'category', new.category));
  end if;
  return null;
end $$;
create or replace trigger human_input_answered_directive
  after update of status on public.human_input_requests
  for each row when (old.status = 'pending' and new.status = 'answered')
  execute function public.sam_answer_to_directive();

-- update_task_status: a progress line in the chat and a low-urgency notification.
create or replace function public.report_task_progress(p_message text) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare t public.tasks; mid text := 'progress:' || extensions.gen_random_uuid();
begin
  select * into t from public.tasks where id = public.current_agent_task_id();
  perform public.sam_authorize_task(t, array['self']);
  if public.is_terminal(t.status) then
    raise exception 'task % is % and takes no more progress reports', t.id, t.status using errcode = '55000';
  end if;
  perform public.sam_chat_note(t, mid, 'system', left(p_message, 2000), jsonb_build_object('kind', 'progress'), 'agent');
  perform public.sam_notify(t.owner_id, t.project_id, t.id, 'progress', t.title, left(p_message, 2000), null);
  return jsonb_build_object('taskId', t.id, 'status', t.status, 'recorded', true);
end $$;

-- Ideas: tasks in draft that agents (or their owner) jot down for later.
create or replace function public.sam_authorize_project(p_project uuid) returns void
language plpgsql stable security definer set search_path = '' as $$
begin
  if not coalesce(case public.sam_caller()
      when 'system' then true
      when 'user' then exists (select 1 from public.projects where id = p_project and owner_id = auth.uid())
      when 'agent' then public.current_agent_project_id() = p_project
      else false end, false) then
    raise exception 'not allowed in project %', p_project using errcode = '42501';
  end if;
end $$;

create or replace function public.create_idea(p_title text, p_content text default '', p_priority integer default 0,
  p_project uuid default null) returns uuid
language plpgsql security definer set search_path = '' as $$
declare pid uuid := coalesce(p_project, public.current_agent_project_id()); p public.projects; tid uuid;
begin
  perform public.sam_authorize_project(pid);
  select * into p from public.projects where id = pid;
  if p.id is null then raise exception 'project % not found', pid using errcode = 'P0002'; end if;
  if p_title is null or length(btrim(p_title)) = 0 then
    raise exception 'an idea needs a title' using errcode = '22023';
  end if;
  insert into public.tasks (project_id, owner_id, title, description, status, triggered_by, task_mode, priority,
                            dispatched_by_agent_session_id)
  values (p.id, p.owner_id, public.sam_initial_title(p_title), coalesce(p_content, ''), 'draft',
          case when public.sam_caller() = 'agent' then 'mcp' else 'user' end::public.task_trigger, 'task',
          least(greatest(coalesce(p_priority, 0), 0), 100), public.current_agent_session_id())
  returning id into tid;
  insert into public.task_events (task_id, project_id, owner_id, actor_type, actor_id, to_status, reason)
  values (tid, p.id, p.owner_id, coalesce(public.sam_caller(), 'system'), public.sam_actor_id(), 'draft', 'idea created');
  return tid;
end $$;

-- Edits an idea and moves it along the idea machine: draft → ready | cancelled;
-- ready → draft | completed | cancelled. A repeat changes nothing.
create or replace function public.update_idea(p_idea uuid, p_changes jsonb) returns boolean
language plpgsql security definer set search_path = '' as $$
declare t public.tasks; target public.task_status := (p_changes ->> 'status')::public.task_status; changed boolean := false;
begin
  select * into t from public.tasks where id = p_idea for update;
  if t.id is null then raise exception 'idea % not found', p_idea using errcode = 'P0002'; end if;
  perform public.sam_authorize_project(t.project_id);
  if t.status not in ('draft', 'ready') then
    raise exception 'task % is % and is no longer an idea', t.id, t.status using errcode = '55000';
  end if;
  if p_changes ?| array['title', 'content', 'append', 'priority'] then
    update public.tasks set
      title = case when nullif(btrim(p_changes ->> 'title'), '') is null then title else public.sam_initial_title(p_changes ->> 'title') end,
      description = left(coalesce(p_changes ->> 'content', description)
                         || coalesce(E'\n\n' || (p_changes ->> 'append'), ''), 32000),
      priority = least(greatest(coalesce((p_changes ->> 'priority')::integer, priority), 0), 100),
      updated_at = public.sam_now()
    where id = t.id
      and (title, description, priority) is distinct from (
        case when nullif(btrim(p_changes ->> 'title'), '') is null then title else public.sam_initial_title(p_changes ->> 'title') end,
        left(coalesce(p_changes ->> 'content', description) || coalesce(E'\n\n' || (p_changes ->> 'append'), ''), 32000),
        least(greatest(coalesce((p_changes ->> 'priority')::integer, priority), 0), 100));
    changed := found;
  end if;
  if target is not null and target <> t.status then
    if not ((t.status = 'draft' and target in ('ready', 'cancelled'))
         or (t.status = 'ready' and target in ('draft', 'completed', 'cancelled'))) then
      raise exception 'an idea cannot go from % to %', t.status, target using errcode = '55000';
    end if;
    changed := public.sam_task_move(t.id, array[t.status]::public.task_status[], target, null, 'idea ' || target) or changed;
  end if;
  return changed;
end $$;

-- Limit refusals name the setting they hit (DETAIL `limit=<key>`), so callers can say which.
create or replace function public.sam_check_dispatch_limits(p_project uuid, p_parent uuid, p_depth integer) returns void
language plpgsql security definer set search_path = '' as $$
begin
  perform 1 from public.projects where id = p_project for no key update;
  if p_depth > public.setting_int('max_dispatch_depth', p_project) then
    raise exception 'dispatch depth % exceeds the limit of %', p_depth, public.setting_int('max_dispatch_depth', p_project)
      using errcode = '54000', detail = 'limit=max_dispatch_depth';
  end if;
  if (select count(*) from public.tasks where parent_task_id = p_parent
        and status in ('queued', 'delegated', 'in_progress')) >= public.setting_int('max_active_children', p_project) then
    raise exception 'task % already has % active sub-tasks', p_parent, public.setting_int('max_active_children', p_project)
      using errcode = '54000', detail = 'limit=max_active_children';
  end if;
  if (select count(*) from public.tasks where project_id = p_project and dispatch_depth > 0
        and status in ('queued', 'delegated', 'in_progress')) >= public.setting_int('max_active_dispatched', p_project) then
    raise exception 'project % already has % active dispatched tasks', p_project,
      public.setting_int('max_active_dispatched', p_project) using errcode = '54000', detail = 'limit=max_active_dispatched';
  end if;
end $$;

-- As every migration ends: nothing executable by public or anon, everything by service_role, then
-- per role what it may call.
revoke execute on all functions in schema public from public, anon;
grant execute on all functions in schema public to service_role;
grant execute on function public.mcp_begin_request(integer), public.take_pending_directives(), public.report_task_progress(text)
  to sam_agent;
grant execute on function public.send_directive(uuid, text, text, jsonb), public.create_idea(text, text, integer, uuid),
  public.update_idea(uuid, jsonb) to sam_agent, authenticated;
