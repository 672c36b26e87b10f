-- A project's default agent comes from one setting, `default_agent_type`, not from a literal in
-- the schema: a project created without one (through REST or any function) gets the setting's
-- value. The shipped value is the demo agent, which runs without a model or credentials (what a
-- local installation wants); a hosted installation sets its agent with
-- `update public.settings set value = '"opencode"' where key = 'default_agent_type'`.
-- Safe to run twice.

insert into public.settings (key, value, kind, description, pattern, project_override) values
  ('default_agent_type', '"demo"', 'text', 'the agent a project gets when it is created without one',
   '^[a-z0-9][a-z0-9._-]{0,63}$', 'none')
on conflict (key) do nothing;

alter table public.projects alter column default_agent_type drop default;

create or replace function public.sam_project_defaults() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  new.default_agent_type := coalesce(new.default_agent_type, public.setting_text('default_agent_type'));
  return new;
end $$;
drop trigger if exists "New projects get the default agent setting" on public.projects;
create trigger "New projects get the default agent setting" before insert on public.projects
  for each row when (new.default_agent_type is null) execute function public.sam_project_defaults();

-- As part 11's version; an agent session started without a type and for a task without one runs
-- the project's agent (was the literal 'opencode').
create or replace function public.start_agent_session(p_agent_type text default null, p_workspace uuid default null)
returns jsonb language plpgsql security definer set search_path = '' as $$
declare w public.workspaces := public.sam_authorize_workspace(coalesce(p_workspace, public.current_workspace_id()), false);
  t public.tasks; sid uuid; j uuid; now_ timestamptz := public.sam_now(); exp timestamptz;
begin
  if w.status <> 'ready' then raise exception 'workspace % is %', w.id, w.status using errcode = '55000'; end if;
  select * into t from public.tasks where id = w.task_id;
  insert into public.agent_sessions (project_id, owner_id, workspace_id, chat_session_id, task_id, agent_type)
  values (w.project_id, w.owner_id, w.id, w.chat_session_id, w.task_id,
          coalesce(p_agent_type, t.agent_type, (select p.default_agent_type from public.projects p where p.id = w.project_id)))
  returning id into sid;
  insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, to_state, actor_type, actor_id)
  values ('agent_session', sid, w.owner_id, w.project_id, 'starting', coalesce(public.sam_caller(), 'system'), public.sam_actor_id());
  exp := now_ + public.setting_interval('agent_token_ttl', w.project_id);
  insert into public.tokens (kind, owner_id, project_id, node_id, workspace_id, agent_session_id, task_id, expires_at, max_expires_at)
  values ('agent', w.owner_id, w.project_id, w.node_id, w.id, sid, w.task_id, exp,
          now_ + public.setting_interval('agent_token_max', w.project_id))
  returning jti into j;
  if t.id is not null then perform public.sam_task_step(t.id, 'agent_session', 'agent session ' || sid); end if;
  return jsonb_build_object('agentSessionId', sid, 'jti', j, 'role', 'sam_agent', 'agent_session_id', sid,
    'workspace_id', w.id, 'project_id', w.project_id, 'task_id', w.task_id, 'exp', extract(epoch from exp)::bigint);
end $$;

-- As every migration ends: nothing executable by public or anon, everything by service_role.
revoke execute on all functions in schema public from public, anon;
grant execute on all functions in schema public to service_role;
