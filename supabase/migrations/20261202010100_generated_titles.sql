-- Titles from a model: the orchestrator's generate_title job writes the refined title back, and the
-- chat sees it live. A title a person changed since submit_task set the truncation is kept.

create or replace function public.set_generated_title(p_task uuid, p_title text) returns boolean
language plpgsql security definer set search_path = '' as $$
declare
  v_title text := btrim(regexp_replace(coalesce(p_title, ''), '\s+', ' ', 'g'));
  v_task public.tasks;
begin
  if v_title = '' or length(v_title) > 100 then
    raise exception 'a generated title has 1 to 100 characters' using errcode = '22023';
  end if;
  update public.tasks t set title = v_title, updated_at = public.sam_now()
   where t.id = p_task and t.title = public.sam_initial_title(t.description) and t.title is distinct from v_title
  returning * into v_task;
  if not found then
    return false;
  end if;
  update public.chat_sessions set topic = left(v_title, 200) where id = v_task.chat_session_id;
  return true;
end $$;

revoke all on function public.set_generated_title(uuid, text) from public, anon, authenticated;
grant execute on function public.set_generated_title(uuid, text) to service_role;

-- The task broadcast also fires when the title changes, so the chat shows the refined one live.
drop trigger if exists tasks_broadcast_change on public.tasks;
create trigger tasks_broadcast_change
  after update of status, execution_step, branch, pr_url, completion_evidence, title on public.tasks
  for each row when (old.status is distinct from new.status or old.execution_step is distinct from new.execution_step
                     or old.branch is distinct from new.branch or old.pr_url is distinct from new.pr_url
                     or old.title is distinct from new.title
                     or old.completion_evidence -> 'gitPush' is distinct from new.completion_evidence -> 'gitPush')
  execute function public.sam_broadcast_task();
