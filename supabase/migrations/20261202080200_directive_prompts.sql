-- Messages into a running child: a directive (send_message_to_subtask, stop_subtask's warning)
-- reaches the task's live agent as a prompt, the way a user's follow-up does (post_message): a
-- `prompt` command to its machine, which queues it until the agent's current turn ends. Once the
-- machine took the prompt (the command is acknowledged), the directive counts as delivered, so
-- get_pending_messages does not hand it out a second time; a directive no live agent took stays
-- pending for get_pending_messages. Safe to run twice.

create or replace function public.send_directive(p_task uuid, p_kind text, p_content text, p_metadata jsonb default '{}')
returns uuid language plpgsql security definer set search_path = '' as $$
declare t public.tasks; did uuid; sender uuid := public.current_agent_task_id(); a public.agent_sessions;
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
  select * into a from public.agent_sessions where task_id = t.id and status in ('idle', 'prompting', 'recovering')
   order by created_at desc limit 1;
  if a.id is not null then
    insert into public.node_commands (node_id, owner_id, workspace_id, kind, payload, dedupe_key)
    select w.node_id, t.owner_id, w.id, 'prompt',
           jsonb_build_object('agentSessionId', a.id, 'messageId', 'directive:' || did, 'directiveId', did,
             'content', case p_kind
               when 'stop_warning' then 'Your parent task is stopping this task: ' || p_content
                                        || E'\n\nWrap up now: save your work and finish.'
               when 'answer' then 'The answer to your question: ' || p_content
               else 'A message from your parent task: ' || p_content end),
           'directive:' || did
      from public.workspaces w where w.id = a.workspace_id and not public.is_terminal(w.status)
    on conflict (dedupe_key) do nothing;
    perform public.sam_touch_activity(a.workspace_id);
  end if;
  return did;
end $$;

-- A directive's prompt the machine took: the directive is delivered.
create or replace function public.sam_directive_prompt_taken() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  update public.directives set delivered_at = public.sam_now()
   where id = (new.payload ->> 'directiveId')::uuid and delivered_at is null;
  return null;
end $$;
drop trigger if exists node_commands_directive_taken on public.node_commands;
create trigger node_commands_directive_taken after update of status on public.node_commands
  for each row when (new.kind = 'prompt' and new.status = 'done' and old.status <> 'done'
                     and new.payload ? 'directiveId')
  execute function public.sam_directive_prompt_taken();

revoke execute on all functions in schema public from public, anon;
grant execute on all functions in schema public to service_role;
grant execute on function public.send_directive(uuid, text, text, jsonb) to sam_agent, authenticated;
