-- Budgets: a task may spend so many agent turns, so much agent time (the sum of its turns' wall
-- time) and so many model tokens (as the agent reports them). Limits come from, in order: what the
-- owner set for the task (set_task_budget), the remaining budget of the parent for a dispatched
-- child, the task's agent profile (max_turns, timeout_minutes, max_tokens), the project's defaults
-- (settings task_max_turns, task_max_wall_time, task_max_tokens; 0 = no limit). The vm-agent asks
-- before every turn (agent_budget_check): at a limit the budget pauses — the agent's next turn
-- waits, the chat shows a card ('budget:<task>:<n>'), the owner gets a `budget_reached`
-- notification — until the owner continues with new limits (continue_task_budget: a
-- `resume_agent` command) or stops the task (stop_task_budget). A turn cut by the time budget is
-- cancelled at the limit by the vm-agent. Safe to run twice.

alter type public.lifecycle_entity add value if not exists 'task_budget';
alter type public.notification_type add value if not exists 'budget_reached';

insert into public.settings (key, value, kind, description, min_value, max_value, project_override) values
  ('task_max_turns', '0', 'integer', 'agent turns a task may take before it pauses and asks (0: no limit)',
   '0', '100000', 'any'),
  ('task_max_wall_time', '"0 seconds"', 'interval',
   'agent time (the sum of its turns) a task may spend before it pauses and asks (0: no limit)',
   '"0 seconds"', '"30 days"', 'any'),
  ('task_max_tokens', '0', 'integer', 'model tokens a task may spend before it pauses and asks (0: no limit)',
   '0', '2000000000', 'any')
on conflict (key) do nothing;

create table if not exists public.task_budgets (
  task_id uuid primary key references public.tasks (id) on delete cascade,
  project_id uuid not null references public.projects (id) on delete cascade,
  owner_id uuid not null references auth.users (id) on delete cascade,
  max_turns integer check (max_turns is null or max_turns >= 0),
  max_wall_ms bigint check (max_wall_ms is null or max_wall_ms >= 0),
  max_tokens bigint check (max_tokens is null or max_tokens >= 0),
  used_turns integer not null default 0 check (used_turns >= 0),
  used_wall_ms bigint not null default 0 check (used_wall_ms >= 0),
  used_tokens bigint not null default 0 check (used_tokens >= 0),
  -- running: turns may start; paused: the next turn waits for the owner; stopped: the owner stopped it.
  state text not null default 'running' check (state in ('running', 'paused', 'stopped')),
  reason text check (reason is null or length(reason) <= 500),
  pauses integer not null default 0,
  inherited_from uuid references public.tasks (id) on delete set null,
  -- The last turn counted per agent session ({agentSessionId: seq}): a re-sent report counts once.
  counted jsonb not null default '{}'::jsonb,
  updated_at timestamptz not null default public.sam_now()
);
create index if not exists task_budgets_owner_idx on public.task_budgets (owner_id);
create index if not exists task_budgets_project_idx on public.task_budgets (project_id);
create index if not exists task_budgets_inherited_idx on public.task_budgets (inherited_from);

alter table public.task_budgets enable row level security;
revoke all on public.task_budgets from anon, authenticated, sam_node, sam_workspace, sam_agent;
grant all on public.task_budgets to service_role;
grant select on public.task_budgets to authenticated;
drop policy if exists "Owners can read their tasks' budgets" on public.task_budgets;
create policy "Owners can read their tasks' budgets" on public.task_budgets
  for select to authenticated using (owner_id = (select auth.uid()));

-- A task's budget row, made on first use from its profile and the project's settings.
create or replace function public.sam_task_budget(p_task uuid) returns public.task_budgets
language plpgsql security definer set search_path = '' as $$
declare b public.task_budgets;
begin
  insert into public.task_budgets (task_id, project_id, owner_id, max_turns, max_wall_ms, max_tokens)
  select t.id, t.project_id, t.owner_id,
         coalesce((t.agent_profile ->> 'maxTurns')::integer, nullif(public.setting_int('task_max_turns', t.project_id), 0)),
         coalesce((t.agent_profile ->> 'timeoutMinutes')::bigint * 60000,
                  nullif((extract(epoch from public.setting_interval('task_max_wall_time', t.project_id)) * 1000)::bigint, 0)),
         coalesce((t.agent_profile ->> 'maxTokens')::bigint, nullif(public.setting_int('task_max_tokens', t.project_id), 0))
    from public.tasks t where t.id = p_task
  on conflict (task_id) do nothing;
  select * into b from public.task_budgets where task_id = p_task for update;
  return b;
end $$;

-- What a budget has reached, in words; null while every limit has room.
create or replace function public.sam_budget_reached(b public.task_budgets) returns text
language sql immutable set search_path = '' as $$
  select case
    when b.max_turns is not null and b.used_turns >= b.max_turns then
      format('the budget of %s agent turn%s is used', b.max_turns, case when b.max_turns = 1 then '' else 's' end)
    when b.max_wall_ms is not null and b.used_wall_ms >= b.max_wall_ms then
      format('the budget of %s of agent time is used', justify_interval(make_interval(secs => b.max_wall_ms / 1000.0)))
    when b.max_tokens is not null and b.used_tokens >= b.max_tokens then
      format('the budget of %s tokens is used', b.max_tokens)
  end
$$;

-- The budget as the vm-agent, the card and the web read it.
create or replace function public.sam_budget_view(b public.task_budgets) returns jsonb
language sql immutable set search_path = '' as $$
  select jsonb_build_object(
    'taskId', b.task_id, 'state', coalesce(b.state, 'running'), 'paused', coalesce(b.state = 'paused', false),
    'reason', b.reason, 'pause', coalesce(b.pauses, 0),
    'limits', jsonb_build_object('turns', b.max_turns, 'wallMs', b.max_wall_ms, 'tokens', b.max_tokens),
    'used', jsonb_build_object('turns', coalesce(b.used_turns, 0), 'wallMs', coalesce(b.used_wall_ms, 0),
                               'tokens', coalesce(b.used_tokens, 0)),
    'wallMsLeft', case when b.max_wall_ms is null then null else greatest(b.max_wall_ms - b.used_wall_ms, 0) end)
$$;

-- running → paused, once per reach: an event, the card, the notification.
create or replace function public.sam_budget_pause(p_task uuid, p_reason text) returns boolean
language plpgsql security definer set search_path = '' as $$
declare b public.task_budgets; t public.tasks;
begin
  update public.task_budgets set state = 'paused', reason = left(p_reason, 500), pauses = pauses + 1,
         updated_at = public.sam_now()
   where task_id = p_task and state = 'running' returning * into b;
  if b.task_id is null then return false; end if;
  select * into t from public.tasks where id = p_task;
  insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, from_state, to_state, actor_type, actor_id, reason)
  values ('task_budget', b.task_id, b.owner_id, b.project_id, 'running', 'paused', coalesce(public.sam_caller(), 'system'),
          public.sam_actor_id(), b.reason);
  perform public.sam_chat_note(t, 'budget:' || t.id || ':' || b.pauses, 'system',
    format('Paused: %s. Continue with a new limit, or stop the task.', b.reason),
    public.sam_budget_view(b) || jsonb_build_object('kind', 'budget_reached'), 'sam');
  perform public.sam_notify(b.owner_id, b.project_id, b.task_id, 'budget_reached', coalesce(t.title, 'Budget reached'),
    format('Paused: %s.', b.reason), 'budget:' || t.id || ':' || b.pauses, jsonb_build_object('taskId', t.id));
  return true;
end $$;

-- The calling workspace's agent session asks before a turn: a budget at a limit pauses here.
create or replace function public.agent_budget_check(p_agent_session uuid) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare a public.agent_sessions; t public.tasks; b public.task_budgets; why text;
begin
  select * into a from public.agent_sessions where id = p_agent_session;
  if a.id is null or not coalesce(public.sam_caller() = 'system' or a.workspace_id = public.current_workspace_id(), false) then
    raise exception 'not allowed to read the budget of agent session %', p_agent_session using errcode = '42501';
  end if;
  select * into t from public.tasks where id = a.task_id;
  if t.id is null then return public.sam_budget_view(null::public.task_budgets); end if;
  b := public.sam_task_budget(t.id);
  why := public.sam_budget_reached(b);
  if b.state = 'running' and why is not null and not public.is_terminal(t.status) then
    perform public.sam_budget_pause(t.id, why);
    select * into b from public.task_budgets where task_id = t.id;
  end if;
  return public.sam_budget_view(b);
end $$;

-- The vm-agent reports a finished turn: its wall time and the tokens the agent reported. Turn
-- `seq` counts once per agent session (a re-sent report changes nothing).
create or replace function public.record_agent_turn(p_agent_session uuid, p_turn jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare a public.agent_sessions; b public.task_budgets; seq integer := (p_turn ->> 'seq')::integer;
  wall bigint := greatest(coalesce((p_turn ->> 'wallMs')::bigint, 0), 0);
  toks bigint := greatest(coalesce((p_turn ->> 'tokens')::bigint, 0), 0);
begin
  select * into a from public.agent_sessions where id = p_agent_session;
  if a.id is null or not coalesce(public.sam_caller() = 'system' or a.workspace_id = public.current_workspace_id(), false) then
    raise exception 'not allowed to report turns of agent session %', p_agent_session using errcode = '42501';
  end if;
  if seq is null or seq < 1 then raise exception 'a turn carries its seq (1, 2, …)' using errcode = '22023'; end if;
  if a.task_id is null then return public.sam_budget_view(null::public.task_budgets); end if;
  b := public.sam_task_budget(a.task_id);
  if coalesce((b.counted ->> a.id::text)::integer, 0) < seq then
    update public.task_budgets
       set used_turns = used_turns + 1, used_wall_ms = used_wall_ms + wall, used_tokens = used_tokens + toks,
           counted = counted || jsonb_build_object(a.id::text, seq), updated_at = public.sam_now()
     where task_id = b.task_id returning * into b;
  end if;
  return public.sam_budget_view(b);
end $$;

-- Limits from a JSON object {turns, wallMs, tokens}: a key that is present sets (null: no limit),
-- a missing key keeps the current limit.
create or replace function public.sam_budget_limits(b public.task_budgets, p_limits jsonb,
  out turns integer, out wall_ms bigint, out tokens bigint)
language plpgsql immutable set search_path = '' as $$
begin
  if p_limits is null or jsonb_typeof(p_limits) <> 'object' then
    raise exception 'limits are an object {turns, wallMs, tokens}' using errcode = '22023';
  end if;
  turns := case when p_limits ? 'turns' then (p_limits ->> 'turns')::integer else b.max_turns end;
  wall_ms := case when p_limits ? 'wallMs' then (p_limits ->> 'wallMs')::bigint else b.max_wall_ms end;
  tokens := case when p_limits ? 'tokens' then (p_limits ->> 'tokens')::bigint else b.max_tokens end;
  if turns < 0 or wall_ms < 0 or tokens < 0 then
    raise exception 'a limit is not negative' using errcode = '22023';
  end if;
end $$;

-- The owner sets a task's limits (before or while it runs; a paused budget stays paused).
create or replace function public.set_task_budget(p_task uuid, p_limits jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare t public.tasks; b public.task_budgets; l record;
begin
  select * into t from public.tasks where id = p_task;
  perform public.sam_authorize_task(t, array['owner']);
  if public.is_terminal(t.status) then
    raise exception 'task % is % and spends nothing more', t.id, t.status using errcode = '55000';
  end if;
  b := public.sam_task_budget(t.id);
  select * into l from public.sam_budget_limits(b, p_limits);
  update public.task_budgets set max_turns = l.turns, max_wall_ms = l.wall_ms, max_tokens = l.tokens,
         updated_at = public.sam_now()
   where task_id = t.id returning * into b;
  return public.sam_budget_view(b);
end $$;

-- paused → running with new limits, each above what is used; the agent's next turn starts.
create or replace function public.continue_task_budget(p_task uuid, p_limits jsonb) returns boolean
language plpgsql security definer set search_path = '' as $$
declare t public.tasks; b public.task_budgets; l record; n public.task_budgets;
begin
  select * into t from public.tasks where id = p_task;
  perform public.sam_authorize_task(t, array['owner']);
  b := public.sam_task_budget(t.id);
  if b.state <> 'paused' then
    if b.state = 'running' then return false; end if;
    raise exception 'the budget of task % is %', t.id, b.state using errcode = '55000';
  end if;
  if public.is_terminal(t.status) then
    raise exception 'task % is % and cannot go on', t.id, t.status using errcode = '55000';
  end if;
  select * into l from public.sam_budget_limits(b, p_limits);
  n := b;
  n.max_turns := l.turns; n.max_wall_ms := l.wall_ms; n.max_tokens := l.tokens;
  if public.sam_budget_reached(n) is not null then
    raise exception 'the new limits leave nothing to spend: %', public.sam_budget_reached(n) using errcode = '22023';
  end if;
  update public.task_budgets set max_turns = l.turns, max_wall_ms = l.wall_ms, max_tokens = l.tokens,
         state = 'running', reason = null, updated_at = public.sam_now()
   where task_id = t.id and state = 'paused' returning * into b;
  insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, from_state, to_state, actor_type, actor_id, reason)
  values ('task_budget', t.id, t.owner_id, t.project_id, 'paused', 'running', coalesce(public.sam_caller(), 'system'),
          public.sam_actor_id(), 'continued with new limits');
  perform public.sam_chat_note(t, 'budget:' || t.id || ':' || b.pauses || ':outcome', 'system',
    'Continued with new limits.', public.sam_budget_view(b) || jsonb_build_object('kind', 'budget_outcome',
    'outcome', 'continued'), 'sam');
  insert into public.node_commands (node_id, owner_id, workspace_id, kind, payload, dedupe_key)
  select w.node_id, t.owner_id, w.id, 'resume_agent', jsonb_build_object('agentSessionId', a.id, 'taskId', t.id),
         'budget-resume:' || t.id || ':' || b.pauses
    from public.agent_sessions a join public.workspaces w on w.id = a.workspace_id
   where a.task_id = t.id and not public.is_terminal(a.status) and not public.is_terminal(w.status)
  on conflict (dedupe_key) do nothing;
  return true;
end $$;

-- paused → stopped: the task is cancelled with the reason in words.
create or replace function public.stop_task_budget(p_task uuid) returns boolean
language plpgsql security definer set search_path = '' as $$
declare t public.tasks; b public.task_budgets;
begin
  select * into t from public.tasks where id = p_task;
  perform public.sam_authorize_task(t, array['owner']);
  b := public.sam_task_budget(t.id);
  if b.state <> 'paused' then
    if b.state = 'stopped' then return false; end if;
    raise exception 'the budget of task % is %', t.id, b.state using errcode = '55000';
  end if;
  update public.task_budgets set state = 'stopped', updated_at = public.sam_now()
   where task_id = t.id and state = 'paused';
  insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, from_state, to_state, actor_type, actor_id, reason)
  values ('task_budget', t.id, t.owner_id, t.project_id, 'paused', 'stopped', coalesce(public.sam_caller(), 'system'),
          public.sam_actor_id(), b.reason);
  perform public.sam_chat_note(t, 'budget:' || t.id || ':' || b.pauses || ':outcome', 'system',
    'Stopped at its budget.', public.sam_budget_view(b) || jsonb_build_object('kind', 'budget_outcome',
    'outcome', 'stopped'), 'sam');
  if not public.is_terminal(t.status) then
    perform public.cancel_task(t.id, 'stopped at its budget: ' || coalesce(b.reason, 'limit reached'));
  end if;
  return true;
end $$;

-- A dispatched child inherits what is left of its parent's budget (never more than its own).
create or replace function public.sam_inherit_budget() returns trigger
language plpgsql security definer set search_path = '' as $$
declare p public.task_budgets; c public.task_budgets;
begin
  if new.parent_task_id is null or new.triggered_by <> 'mcp' then return null; end if;
  p := public.sam_task_budget(new.parent_task_id);
  if p.task_id is null then return null; end if;
  c := public.sam_task_budget(new.id);
  update public.task_budgets set
      max_turns = least(c.max_turns, case when p.max_turns is null then null else greatest(p.max_turns - p.used_turns, 0) end),
      max_wall_ms = least(c.max_wall_ms, case when p.max_wall_ms is null then null
                                              else greatest(p.max_wall_ms - p.used_wall_ms, 0) end),
      max_tokens = least(c.max_tokens, case when p.max_tokens is null then null
                                            else greatest(p.max_tokens - p.used_tokens, 0) end),
      inherited_from = p.task_id
   where task_id = new.id;
  return null;
end $$;
drop trigger if exists tasks_inherit_budget on public.tasks;
create trigger tasks_inherit_budget after insert on public.tasks
  for each row when (new.parent_task_id is not null) execute function public.sam_inherit_budget();

revoke execute on all functions in schema public from public, anon;
grant execute on all functions in schema public to service_role;
grant execute on function public.set_task_budget(uuid, jsonb), public.continue_task_budget(uuid, jsonb),
  public.stop_task_budget(uuid) to authenticated;
grant execute on function public.agent_budget_check(uuid), public.record_agent_turn(uuid, jsonb) to sam_workspace;
