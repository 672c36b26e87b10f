-- Control plane, part 1: every state as an enum, the one clock, and the one settings table.
-- Safe to run twice: enums are created only when missing, functions are replaced, seed rows use
-- `on conflict do nothing`.

create or replace function pg_temp.ensure_enum(type_name text, labels text[]) returns void
language plpgsql as $$
begin
  if not exists (select 1 from pg_type where typname = type_name and typnamespace = 'public'::regnamespace) then
    execute format('create type public.%I as enum (%s)', type_name,
      (select string_agg(quote_literal(l), ', ' order by o) from unnest(labels) with ordinality as u(l, o)));
  end if;
end $$;

select pg_temp.ensure_enum('task_status', array['draft', 'ready', 'queued', 'delegated', 'in_progress',
  'completed', 'failed', 'cancelled']);
-- Declaration order is execution order: steps move forward only (enum comparison).
select pg_temp.ensure_enum('task_step', array['node_selection', 'node_provisioning', 'node_agent_ready',
  'workspace_creation', 'workspace_ready', 'agent_session', 'running', 'awaiting_followup']);
select pg_temp.ensure_enum('task_trigger', array['user', 'mcp', 'retry', 'fork', 'cron', 'webhook', 'github',
  'session_recovery']);
select pg_temp.ensure_enum('task_mode', array['task', 'conversation']);
select pg_temp.ensure_enum('actor_type', array['user', 'node', 'workspace', 'agent', 'system']);
select pg_temp.ensure_enum('node_status', array['provisioning', 'ready', 'active', 'warm', 'destroying',
  'destroyed', 'failed', 'unhealthy']);
select pg_temp.ensure_enum('workspace_status', array['creating', 'ready', 'stopping', 'stopped', 'failed']);
select pg_temp.ensure_enum('agent_session_status', array['starting', 'idle', 'prompting', 'recovering',
  'stopped', 'failed']);
select pg_temp.ensure_enum('chat_session_status', array['active', 'ended', 'failed']);
select pg_temp.ensure_enum('message_role', array['user', 'assistant', 'system', 'thought', 'tool', 'plan']);
select pg_temp.ensure_enum('node_command_status', array['pending', 'delivered', 'done', 'failed']);
select pg_temp.ensure_enum('job_status', array['pending', 'running', 'succeeded', 'dead']);
select pg_temp.ensure_enum('token_kind', array['bootstrap', 'node', 'workspace', 'agent']);
select pg_temp.ensure_enum('human_input_status', array['pending', 'answered', 'expired', 'cancelled']);
select pg_temp.ensure_enum('notification_type', array['task_complete', 'needs_input', 'error', 'progress',
  'session_ended', 'pr_created']);
select pg_temp.ensure_enum('urgency', array['low', 'medium', 'high']);
select pg_temp.ensure_enum('vm_size', array['small', 'medium', 'large']);
select pg_temp.ensure_enum('workspace_profile', array['full', 'lightweight']);
select pg_temp.ensure_enum('lifecycle_entity', array['node', 'workspace', 'agent_session', 'chat_session',
  'human_input', 'orchestrator_job']);

-- The one clock. Tests freeze it with `set local sam.now = '…'`.
create or replace function public.sam_now() returns timestamptz
language sql stable set search_path = '' as $$
  select coalesce(nullif(current_setting('sam.now', true), '')::timestamptz, now())
$$;

-- Predicates over the states.
create or replace function public.is_terminal(s public.task_status) returns boolean
language sql immutable as $$ select s in ('completed', 'failed', 'cancelled') $$;
create or replace function public.is_active(s public.task_status) returns boolean
language sql immutable as $$ select s in ('queued', 'delegated', 'in_progress') $$;
create or replace function public.is_terminal(s public.node_status) returns boolean
language sql immutable as $$ select s in ('destroyed', 'failed') $$;
create or replace function public.is_live(s public.node_status) returns boolean
language sql immutable as $$ select s in ('provisioning', 'ready', 'active', 'warm', 'unhealthy') $$;
create or replace function public.is_terminal(s public.workspace_status) returns boolean
language sql immutable as $$ select s in ('stopped', 'failed') $$;
create or replace function public.is_terminal(s public.agent_session_status) returns boolean
language sql immutable as $$ select s in ('stopped', 'failed') $$;
create or replace function public.is_terminal(s public.human_input_status) returns boolean
language sql immutable as $$ select s <> 'pending' $$;
create or replace function public.is_terminal(s public.job_status) returns boolean
language sql immutable as $$ select s in ('succeeded', 'dead') $$;

-- Every limit and timeout, in one place. Projects override through project_settings.
create table if not exists public.settings (
  key text primary key,
  value jsonb not null,
  kind text not null check (kind in ('integer', 'interval')),
  description text not null
);
comment on table public.settings is 'Platform limits and timeouts; read through public.setting_int() / public.setting_interval().';

insert into public.settings (key, value, kind, description) values
  ('max_dispatch_depth', '3', 'integer', 'deepest sub-task level an agent may dispatch'),
  ('max_active_children', '5', 'integer', 'active sub-tasks per parent task'),
  ('max_active_dispatched', '10', 'integer', 'active agent-dispatched tasks per project'),
  ('max_message_batch', '100', 'integer', 'messages per recorded batch'),
  ('max_workspaces_per_node', '3', 'integer', 'live workspaces per node'),
  ('sweep_batch', '100', 'integer', 'rows one sweep handles per run'),
  ('job_max_attempts', '5', 'integer', 'orchestrator job attempts before it is dead'),
  ('warm_timeout', '"30 minutes"', 'interval', 'how long an idle node stays warm'),
  ('idle_node_lifetime', '"4 hours"', 'interval', 'a node without live workspaces and without workspace activity is destroyed after this'),
  ('node_absolute_lifetime', '"24 hours"', 'interval', 'a node without workspace activity for this long is destroyed (heartbeats are not activity)'),
  ('heartbeat_interval', '"60 seconds"', 'interval', 'how often nodes heartbeat'),
  ('heartbeat_stale', '"180 seconds"', 'interval', 'a node silent this long is unhealthy'),
  ('provisioning_timeout', '"15 minutes"', 'interval', 'node_provisioning step limit'),
  ('agent_ready_timeout', '"15 minutes"', 'interval', 'node_agent_ready step limit'),
  ('workspace_ready_timeout', '"30 minutes"', 'interval', 'workspace_creation / workspace_ready step limit'),
  ('queued_timeout', '"20 minutes"', 'interval', 'a task queued this long without a node is failed (> agent ready)'),
  ('bootstrap_token_ttl', '"15 minutes"', 'interval', 'one-time node bootstrap token lifetime'),
  ('node_token_ttl', '"1 hour"', 'interval', 'node token lifetime (refreshed by heartbeat)'),
  ('workspace_token_ttl', '"24 hours"', 'interval', 'workspace token lifetime'),
  ('agent_token_ttl', '"8 hours"', 'interval', 'agent token sliding lifetime'),
  ('agent_token_max', '"24 hours"', 'interval', 'agent token hard cap'),
  ('human_input_ttl', '"2 hours"', 'interval', 'how long a question waits for an answer'),
  ('job_backoff_base', '"5 seconds"', 'interval', 'orchestrator job retry backoff base (doubles per attempt)'),
  ('job_backoff_max', '"10 minutes"', 'interval', 'orchestrator job retry backoff cap'),
  ('job_lease', '"5 minutes"', 'interval', 'how long a running orchestrator job is leased')
on conflict (key) do nothing;

alter table public.settings enable row level security;
revoke all on public.settings from anon, authenticated;
