-- The task tree's "Needs me" filter, live: when a task's agent asks a question
-- (human_input_requests), asks permission (permission_requests) or pauses at its budget
-- (task_budgets), and again when that is answered, expires or goes on, the project's topic
-- `project:<id>` carries an `attention` broadcast ({taskId, projectId, kind, pending}). The web
-- reads the pending rows again on it (web/src/stores/tree.ts). Task status changes of every task
-- of the project, sub-tasks and retries included, already go out on the same topic as `task`.
-- Safe to run twice.

create or replace function public.sam_broadcast_attention() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  now_row jsonb := to_jsonb(new);
  was_row jsonb := case when tg_op = 'UPDATE' then to_jsonb(old) end;
  kind text := case tg_table_name when 'human_input_requests' then 'question'
                                  when 'permission_requests' then 'permission' else 'budget' end;
  pending boolean;
  was boolean;
begin
  if new.task_id is null then return null; end if;
  pending := case when kind = 'budget' then now_row ->> 'state' = 'paused' else now_row ->> 'status' = 'pending' end;
  was := case when was_row is null then false
              when kind = 'budget' then was_row ->> 'state' = 'paused' else was_row ->> 'status' = 'pending' end;
  if pending is not distinct from was then return null; end if;
  perform realtime.send(jsonb_build_object('taskId', new.task_id, 'projectId', new.project_id, 'kind', kind,
                                           'pending', pending, 'at', public.sam_now()),
                        'attention', 'project:' || new.project_id, true);
  return null;
end $$;

create or replace trigger human_input_requests_broadcast_attention
  after insert or update of status on public.human_input_requests
  for each row execute function public.sam_broadcast_attention();

create or replace trigger permission_requests_broadcast_attention
  after insert or update of status on public.permission_requests
  for each row execute function public.sam_broadcast_attention();

create or replace trigger task_budgets_broadcast_attention
  after insert or update of state on public.task_budgets
  for each row execute function public.sam_broadcast_attention();

revoke all on function public.sam_broadcast_attention() from public, anon, authenticated;
grant execute on function public.sam_broadcast_attention() to service_role;
