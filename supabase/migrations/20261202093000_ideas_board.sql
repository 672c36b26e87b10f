-- The ideas board. An idea is a task that began as one (create_idea: `draft`); the board's five
-- columns are stages of the task's own status, so executing an idea runs that very task and its card
-- follows it to the end:
--   exploring = draft · ready = ready · executing = queued | delegated | in_progress
--   done = completed · parked = cancelled | failed
-- move_idea is the owner's one way across the board: it guards the from-state, is a no-op when the
-- idea is already there, and every move is a task_events row (through sam_task_move).

create or replace function public.idea_stage(p_status public.task_status) returns text
  language sql immutable set search_path = '' as $$
  select case p_status
    when 'draft' then 'exploring'
    when 'ready' then 'ready'
    when 'completed' then 'done'
    when 'cancelled' then 'parked'
    when 'failed' then 'parked'
    else 'executing'
  end
$$;
revoke all on function public.idea_stage(public.task_status) from public, anon;
grant execute on function public.idea_stage(public.task_status) to authenticated, service_role;

-- The board of a project (or one card of it): root tasks born as ideas, and any task waiting in
-- draft or ready. Runs as the caller, so RLS decides what is seen.
create or replace function public.list_ideas(p_project uuid, p_idea uuid default null)
  returns table (id uuid, title text, content text, priority integer, status public.task_status, stage text,
                 execution_step public.task_step, session_id uuid, triggered_by public.task_trigger,
                 error_message text, pr_url text, created_at timestamptz, updated_at timestamptz)
  language sql stable security invoker set search_path = '' as $$
  select t.id, t.title, t.description, t.priority, t.status, public.idea_stage(t.status), t.execution_step,
         t.chat_session_id, t.triggered_by, t.error_message, t.pr_url, t.created_at, t.updated_at
    from public.tasks t
   where t.project_id = p_project
     and (p_idea is null or t.id = p_idea)
     and t.parent_task_id is null
     and (t.status in ('draft', 'ready')
          or exists (select 1 from public.task_events e
                      where e.task_id = t.id and e.from_status is null and e.to_status in ('draft', 'ready')))
   order by t.priority desc, t.created_at desc
   limit 500
$$;
revoke all on function public.list_ideas(uuid, uuid) from public, anon;
grant execute on function public.list_ideas(uuid, uuid) to authenticated, service_role;

create or replace function public.move_idea(p_idea uuid, p_stage text) returns boolean
  language plpgsql security definer set search_path = '' as $$
declare t public.tasks; prompt text;
begin
  if p_stage is null or p_stage not in ('exploring', 'ready', 'executing', 'done', 'parked') then
    raise exception 'an idea''s stage is exploring, ready, executing, done or parked' using errcode = '22023';
  end if;
  select * into t from public.tasks where id = p_idea for update;
  perform public.sam_authorize_task(t, array['owner']);
  if public.idea_stage(t.status) = p_stage then return false; end if;
  if p_stage = 'exploring' and (t.status = 'ready' or (t.status = 'cancelled' and t.chat_session_id is null)) then
    -- Back to exploring: from ready, or parked before it ever ran.
    return public.sam_task_move(t.id, array[t.status], 'draft', null, 'idea exploring');
  elsif p_stage = 'ready' and t.status in ('draft', 'cancelled', 'failed') then
    return public.sam_task_move(t.id, array[t.status], 'ready', null, 'idea ready');
  elsif p_stage = 'parked' and t.status in ('draft', 'ready') then
    return public.sam_task_move(t.id, array[t.status], 'cancelled', null, 'idea parked');
  elsif p_stage = 'done' and t.status = 'ready' then
    -- Done without running it here (as update_idea's ready → completed).
    return public.sam_task_move(t.id, array['ready']::public.task_status[], 'completed', null, 'idea done');
  elsif p_stage = 'executing' and t.status in ('draft', 'ready') then
    if t.status = 'draft' then
      perform public.sam_task_move(t.id, array['draft']::public.task_status[], 'ready', null, 'idea ready');
    end if;
    perform public.run_task(t.id);
    -- The agent's first prompt, and the chat's first line: the idea itself.
    select * into t from public.tasks where id = t.id;
    prompt := left(t.title || coalesce(nullif(E'\n\n' || btrim(t.description), E'\n\n'), ''), 16000);
    insert into public.messages (session_id, project_id, owner_id, message_id, role, content, origin)
    values (t.chat_session_id, t.project_id, t.owner_id, 'initial', 'user', prompt, 'user')
    on conflict (session_id, message_id) do nothing;
    return true;
  end if;
  raise exception 'an idea cannot go from % to %', public.idea_stage(t.status), p_stage using errcode = '55000';
end $$;
revoke all on function public.move_idea(uuid, text) from public, anon;
grant execute on function public.move_idea(uuid, text) to authenticated, service_role;

-- Edits an agent makes over MCP (content, priority) reach an open board too; status and title
-- changes are broadcast by tasks_broadcast_change already.
drop trigger if exists tasks_broadcast_idea_edit on public.tasks;
create trigger tasks_broadcast_idea_edit after update of description, priority on public.tasks
  for each row when ((old.description is distinct from new.description or old.priority is distinct from new.priority)
                     and old.status = new.status and old.title is not distinct from new.title
                     and new.status in ('draft', 'ready'))
  execute function public.sam_broadcast_task();
