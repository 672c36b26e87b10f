-- Token usage per agent session, as the agent reports it (Codex's usage updates and session log,
-- OpenCode's prompt results, Claude Code's per-message usage): input, output, cached and reasoning
-- tokens, the context window and the cost when reported. The vm-agent reports the session's running
-- totals after each turn; a report never lowers a total, so a repeated or late one is harmless.
-- The owner reads it with the task; nobody writes it but the session's own workspace, through
-- record_agent_usage.

create table if not exists public.agent_session_usage (
  agent_session_id uuid primary key references public.agent_sessions (id) on delete cascade,
  project_id uuid not null references public.projects (id) on delete cascade,
  owner_id uuid not null references auth.users (id) on delete cascade,
  task_id uuid references public.tasks (id) on delete cascade,
  chat_session_id uuid references public.chat_sessions (id) on delete cascade,
  agent_type text not null check (length(agent_type) between 1 and 64),
  input_tokens bigint not null default 0 check (input_tokens >= 0),
  output_tokens bigint not null default 0 check (output_tokens >= 0),
  cached_read_tokens bigint not null default 0 check (cached_read_tokens >= 0),
  cached_write_tokens bigint not null default 0 check (cached_write_tokens >= 0),
  thought_tokens bigint not null default 0 check (thought_tokens >= 0),
  total_tokens bigint not null default 0 check (total_tokens >= 0),
  context_used bigint check (context_used is null or context_used >= 0),
  context_size bigint check (context_size is null or context_size >= 0),
  cost_amount numeric(14, 6) check (cost_amount is null or cost_amount >= 0),
  cost_currency text check (cost_currency is null or cost_currency ~ '^[A-Z]{3}$'),
  turns integer not null default 0 check (turns >= 0),
  -- Where the numbers came from ('acp', 'claude-transcript', 'codex-rollout', …).
  source text not null default 'acp' check (length(source) between 1 and 64),
  created_at timestamptz not null default public.sam_now(),
  updated_at timestamptz not null default public.sam_now()
);
create index if not exists agent_session_usage_task_idx on public.agent_session_usage (task_id) where task_id is not null;
create index if not exists agent_session_usage_owner_idx on public.agent_session_usage (owner_id);

alter table public.agent_session_usage enable row level security;
revoke all on public.agent_session_usage from public, anon, authenticated, sam_node, sam_workspace, sam_agent;
grant select on public.agent_session_usage to authenticated;
grant all on public.agent_session_usage to service_role;

drop policy if exists "Owners can read the usage of their agent sessions" on public.agent_session_usage;
create policy "Owners can read the usage of their agent sessions" on public.agent_session_usage
  for select to authenticated using (owner_id = (select auth.uid()));

-- The session's running totals from its workspace (or the system). Counts only grow; the context
-- and the cost are the latest reported. Returns whether anything changed.
create or replace function public.record_agent_usage(p_agent_session uuid, p_usage jsonb) returns boolean
language plpgsql security definer set search_path = '' as $$
declare
  s public.agent_sessions;
  n bigint;
  changed boolean;
  num constant text[] := array['inputTokens', 'outputTokens', 'cachedReadTokens', 'cachedWriteTokens',
                               'thoughtTokens', 'totalTokens', 'contextUsed', 'contextSize', 'turns'];
  k text;
begin
  select * into s from public.agent_sessions where id = p_agent_session;
  if s.id is null or not coalesce(public.sam_caller() = 'system' or s.workspace_id = public.current_workspace_id(), false) then
    raise exception 'not allowed to report usage of agent session %', p_agent_session using errcode = '42501';
  end if;
  if jsonb_typeof(p_usage) is distinct from 'object' then
    raise exception 'usage is an object' using errcode = '22023';
  end if;
  foreach k in array num loop
    if p_usage ? k and (jsonb_typeof(p_usage -> k) <> 'number' or (p_usage ->> k)::numeric < 0
                        or (p_usage ->> k)::numeric <> trunc((p_usage ->> k)::numeric)) then
      raise exception 'usage % is a whole number ≥ 0', k using errcode = '22023';
    end if;
  end loop;
  insert into public.agent_session_usage as u (
    agent_session_id, project_id, owner_id, task_id, chat_session_id, agent_type,
    input_tokens, output_tokens, cached_read_tokens, cached_write_tokens, thought_tokens, total_tokens,
    context_used, context_size, cost_amount, cost_currency, turns, source)
  values (
    s.id, s.project_id, s.owner_id, s.task_id, s.chat_session_id, s.agent_type,
    coalesce((p_usage ->> 'inputTokens')::bigint, 0), coalesce((p_usage ->> 'outputTokens')::bigint, 0),
    coalesce((p_usage ->> 'cachedReadTokens')::bigint, 0), coalesce((p_usage ->> 'cachedWriteTokens')::bigint, 0),
    coalesce((p_usage ->> 'thoughtTokens')::bigint, 0), coalesce((p_usage ->> 'totalTokens')::bigint, 0),
    (p_usage ->> 'contextUsed')::bigint, (p_usage ->> 'contextSize')::bigint,
    (p_usage -> 'cost' ->> 'amount')::numeric, upper(p_usage -> 'cost' ->> 'currency'),
    coalesce((p_usage ->> 'turns')::int, 0), coalesce(left(p_usage ->> 'source', 64), 'acp'))
  on conflict (agent_session_id) do update set
    input_tokens = greatest(u.input_tokens, excluded.input_tokens),
    output_tokens = greatest(u.output_tokens, excluded.output_tokens),
    cached_read_tokens = greatest(u.cached_read_tokens, excluded.cached_read_tokens),
    cached_write_tokens = greatest(u.cached_write_tokens, excluded.cached_write_tokens),
    thought_tokens = greatest(u.thought_tokens, excluded.thought_tokens),
    total_tokens = greatest(u.total_tokens, excluded.total_tokens),
    context_used = coalesce(excluded.context_used, u.context_used),
    context_size = coalesce(excluded.context_size, u.context_size),
    cost_amount = coalesce(greatest(u.cost_amount, excluded.cost_amount), excluded.cost_amount, u.cost_amount),
    cost_currency = coalesce(excluded.cost_currency, u.cost_currency),
    turns = greatest(u.turns, excluded.turns),
    source = excluded.source,
    updated_at = public.sam_now()
  where (u.input_tokens, u.output_tokens, u.cached_read_tokens, u.cached_write_tokens, u.thought_tokens,
         u.total_tokens, u.context_used, u.context_size, u.cost_amount, u.turns)
        is distinct from
        (greatest(u.input_tokens, excluded.input_tokens), greatest(u.output_tokens, excluded.output_tokens),
         greatest(u.cached_read_tokens, excluded.cached_read_tokens),
         greatest(u.cached_write_tokens, excluded.cached_write_tokens),
         greatest(u.thought_tokens, excluded.thought_tokens), greatest(u.total_tokens, excluded.total_tokens),
         coalesce(excluded.context_used, u.context_used), coalesce(excluded.context_size, u.context_size),
         coalesce(greatest(u.cost_amount, excluded.cost_amount), excluded.cost_amount, u.cost_amount),
         greatest(u.turns, excluded.turns));
  get diagnostics n = row_count;
  changed := n > 0;
  return changed;
end $$;

-- As every migration ends: nothing executable by public or anon, everything by service_role.
revoke execute on all functions in schema public from public, anon;
grant execute on all functions in schema public to service_role;
revoke execute on function public.record_agent_usage(uuid, jsonb) from authenticated;
grant execute on function public.record_agent_usage(uuid, jsonb) to sam_workspace;
