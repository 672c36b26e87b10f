-- A task's token usage reaches its open chat live.
--
-- The vm-agent reports an agent session's usage after each turn (record_agent_usage), after the
-- turn's last chat line went into its outbox, so the two land in either order. The web read the
-- usage again when the task's step changed or a turn ended in the chat; when the usage landed after
-- both, the task view showed none until the next change. Now every change of a row of
-- agent_session_usage broadcasts the event `usage` on the chat's private topic `session:<id>`
--   {"taskId", "agentSessionId"}
-- (functions/_shared/common/contracts/usage.ts), and the web reads the task's usage again. A report
-- that changes nothing (the totals only grow; the same totals again) sends nothing.
-- Safe to run twice.

create or replace function public.sam_broadcast_usage() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if new.chat_session_id is not null then
    perform realtime.send(jsonb_build_object('taskId', new.task_id, 'agentSessionId', new.agent_session_id),
      'usage', 'session:' || new.chat_session_id, true);
  end if;
  return null;
end $$;

revoke all on function public.sam_broadcast_usage() from public, anon, authenticated;

drop trigger if exists agent_session_usage_broadcast_insert on public.agent_session_usage;
create trigger agent_session_usage_broadcast_insert after insert on public.agent_session_usage
  for each row execute function public.sam_broadcast_usage();

drop trigger if exists agent_session_usage_broadcast_change on public.agent_session_usage;
create trigger agent_session_usage_broadcast_change after update on public.agent_session_usage
  for each row when (
    (old.input_tokens, old.output_tokens, old.cached_read_tokens, old.cached_write_tokens, old.thought_tokens,
     old.total_tokens, old.context_used, old.context_size, old.cost_amount, old.cost_currency, old.turns)
    is distinct from
    (new.input_tokens, new.output_tokens, new.cached_read_tokens, new.cached_write_tokens, new.thought_tokens,
     new.total_tokens, new.context_used, new.context_size, new.cost_amount, new.cost_currency, new.turns))
  execute function public.sam_broadcast_usage();
