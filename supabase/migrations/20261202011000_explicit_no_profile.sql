-- A task can ask for no agent profile: `"profile": null` in its options (the composer's "No
-- profile") skips the project's default profile and the source task's, so the task runs with the
-- project's defaults and records no profile. A missing `profile` key still resolves as in
-- 20261202010200_agent_profiles.sql; this is that migration's sam_create_task with that one choice.

create or replace function public.sam_create_task(p_project public.projects, p_message text, p_options jsonb,
  p_trigger public.task_trigger, p_parent uuid, p_source uuid, p_depth integer, p_dispatcher uuid)
returns public.tasks language plpgsql security definer set search_path = '' as $$
declare
  t public.tasks; sid uuid := extensions.gen_random_uuid(); tid uuid := extensions.gen_random_uuid();
  prof public.agent_profiles;
begin
  if p_message is null or length(btrim(p_message)) = 0 or length(p_message) > 16000 then
    raise exception 'a task message is 1 to 16000 characters' using errcode = '22023';
  end if;
  perform public.sam_check_user_quotas(p_project.owner_id);
  if jsonb_typeof(p_options -> 'profile') is distinct from 'null' then
    prof := public.sam_resolve_agent_profile(p_project, nullif(btrim(p_options ->> 'profile'), ''), p_source);
  end if;
  insert into public.tasks (id, project_id, owner_id, parent_task_id, source_task_id, dispatch_depth, triggered_by,
      task_mode, dispatched_by_agent_session_id, title, description, status, execution_step, step_changed_at,
      priority, branch, base_branch, agent_type, provider, vm_size, workspace_profile, chat_session_id,
      agent_profile_id, agent_profile)
  values (tid, p_project.id, p_project.owner_id, p_parent, p_source, p_depth, p_trigger,
      coalesce((p_options ->> 'taskMode')::public.task_mode, prof.task_mode,
               case when coalesce((p_options ->> 'workspaceProfile')::public.workspace_profile, prof.workspace_profile)
                         = 'lightweight' and p_trigger = 'user'
                    then 'conversation' else 'task' end::public.task_mode),
      p_dispatcher, public.sam_initial_title(p_message), p_message, 'queued', 'node_selection', public.sam_now(),
      least(greatest(coalesce((p_options ->> 'priority')::integer, 0), 0), 100),
      coalesce(p_options ->> 'branch', public.sam_branch_name(p_message, tid)),
      coalesce(p_options ->> 'baseBranch', p_project.default_branch),
      coalesce(p_options ->> 'agentType', prof.agent_type, p_project.default_agent_type),
      coalesce(p_options ->> 'provider', prof.provider, p_project.default_provider),
      coalesce((p_options ->> 'vmSize')::public.vm_size, prof.vm_size, p_project.default_vm_size),
      coalesce((p_options ->> 'workspaceProfile')::public.workspace_profile, prof.workspace_profile,
               p_project.default_workspace_profile),
      null,
      prof.id,
      case when prof.id is null then '{}'::jsonb else jsonb_strip_nulls(jsonb_build_object(
        'id', prof.id, 'name', prof.name, 'agentType', prof.agent_type, 'model', prof.model,
        'permissionMode', prof.permission_mode, 'workspaceProfile', prof.workspace_profile,
        'taskMode', prof.task_mode, 'instructions', nullif(prof.instructions, ''), 'maxTurns', prof.max_turns,
        'timeoutMinutes', prof.timeout_minutes, 'maxTokens', prof.max_tokens, 'provider', prof.provider,
        'vmSize', prof.vm_size, 'location', prof.location)) end)
  returning * into t;
  if not public.sam_is_valid_git_ref(t.branch) then
    raise exception 'invalid branch name %', t.branch using errcode = '22023';
  end if;
  insert into public.chat_sessions (id, project_id, owner_id, task_id, topic)
  values (sid, t.project_id, t.owner_id, t.id, left(t.title, 200));
  update public.tasks set chat_session_id = sid where id = t.id returning * into t;
  insert into public.task_events (task_id, project_id, owner_id, actor_type, actor_id, to_status, to_step, reason)
  values (t.id, t.project_id, t.owner_id, coalesce(public.sam_caller(), 'system'), public.sam_actor_id(),
          'queued', 'node_selection', p_trigger::text);
  insert into public.messages (session_id, project_id, owner_id, message_id, role, content, origin)
  values (sid, t.project_id, t.owner_id, 'initial', 'user', p_message, p_trigger::text);
  if length(btrim(p_message)) > 100 then
    perform public.sam_enqueue_job('generate_title', t.owner_id, t.project_id, t.id, null,
      jsonb_build_object('message', left(p_message, 4000)), 'generate_title:' || t.id);
  end if;
  return t;
end $$;

revoke all on function public.sam_create_task(public.projects, text, jsonb, public.task_trigger, uuid, uuid, integer, uuid)
  from public, anon, authenticated;
