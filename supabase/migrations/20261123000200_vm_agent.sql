-- What the `vm-agent` edge function needs beyond the node and workspace transitions: the node's
-- slid token (to re-sign it after a heartbeat), everything a node needs to create a workspace
-- together with that workspace's token, message batches addressed by agent session, and the
-- workspace's completion report (git push result → task); and a fix so a workspace can report its
-- own failure (workspace_failed → task failed).

-- The caller's live node token after node_heartbeat slid it: the claims to sign again.
create or replace function public.node_token_claims() returns jsonb
language sql stable security definer set search_path = '' as $$
  select jsonb_build_object('jti', t.jti, 'node_id', t.node_id, 'exp', extract(epoch from t.expires_at)::bigint)
    from public.sam_token('node') t
$$;

-- A node that received a create_workspace command gets what the VM needs (repository, branches,
-- profile, agent, the task's first message) and the claims of a fresh workspace token. Only for a
-- workspace on the calling node; null when the workspace is no longer live (the task ended first).
create or replace function public.node_workspace_bootstrap(p_workspace uuid) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare nid uuid := public.current_node_id(); w public.workspaces; t public.tasks; p public.projects; prompt text;
begin
  if nid is null then raise exception 'a node token is required' using errcode = '42501'; end if;
  select * into w from public.workspaces where id = p_workspace;
  if w.id is null or w.node_id is distinct from nid then
    raise exception 'not allowed to act on workspace %', p_workspace using errcode = '42501';
  end if;
  if w.status not in ('creating', 'ready') then return null; end if;
  select * into t from public.tasks where id = w.task_id;
  select * into p from public.projects where id = w.project_id;
  select m.content into prompt from public.messages m
   where m.session_id = w.chat_session_id and m.message_id = 'initial';
  return jsonb_build_object(
    'token', public.issue_workspace_token(w.id),
    'workspace', jsonb_build_object(
      'workspaceId', w.id, 'projectId', w.project_id, 'taskId', w.task_id, 'chatSessionId', w.chat_session_id,
      'repository', p.repository, 'repoProvider', p.repo_provider, 'defaultBranch', p.default_branch,
      'baseBranch', coalesce(w.base_branch, p.default_branch), 'branch', w.branch,
      'workspaceProfile', w.workspace_profile, 'lightweight', w.workspace_profile = 'lightweight',
      'agentType', coalesce(t.agent_type, p.default_agent_type), 'taskMode', coalesce(t.task_mode, 'task'),
      'title', t.title, 'initialPrompt', coalesce(prompt, t.description, '')));
end $$;

-- Message batches name the agent session (the vm-agent's unit); they land in its chat session.
create or replace function public.record_agent_messages(p_agent_session uuid, p_batch jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare s public.agent_sessions;
begin
  select * into s from public.agent_sessions where id = p_agent_session;
  if s.id is null or not (public.sam_caller() = 'system' or s.workspace_id = public.current_workspace_id()) then
    raise exception 'not allowed to write to agent session %', p_agent_session using errcode = '42501';
  end if;
  if s.chat_session_id is null then
    raise exception 'agent session % has no chat session', p_agent_session using errcode = '55000';
  end if;
  return public.record_messages(s.chat_session_id, p_batch);
end $$;

-- The workspace finished its work: the git push result is recorded on the task (the pushed branch
-- replaces the planned one), then the task completes (task mode) or waits for the human
-- (conversation mode) through complete_task. A pushed task-mode branch asks the orchestrator for a
-- pull request. Safe to repeat; a task the agent already completed over MCP still gets its push.
create or replace function public.workspace_complete(p_push jsonb, p_summary text default null) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare w public.workspaces := public.sam_authorize_workspace(public.current_workspace_id(), false);
  t public.tasks; evidence jsonb; moved boolean := false; pr boolean := false;
  pushed boolean := coalesce((p_push ->> 'pushed')::boolean, false); br text := p_push ->> 'branchName';
begin
  select * into t from public.tasks where id = w.task_id for update;
  if t.id is null then raise exception 'workspace % has no task', w.id using errcode = 'P0002'; end if;
  evidence := coalesce(t.completion_evidence, '{}') || jsonb_build_object('gitPush', p_push);
  update public.tasks set completion_evidence = evidence, updated_at = public.sam_now(),
         branch = case when pushed and br is not null and public.sam_is_valid_git_ref(br) then br else branch end
   where id = t.id;
  if public.is_active(t.status) then
    moved := public.complete_task(t.id, p_summary, null, evidence);
  end if;
  select * into t from public.tasks where id = t.id;
  if pushed and t.task_mode = 'task' and t.status = 'completed' then
    perform public.sam_enqueue_job('open_pr', t.owner_id, t.project_id, t.id, null,
      jsonb_build_object('branch', t.branch, 'baseBranch', t.base_branch, 'commitSha', p_push ->> 'commitSha',
                         'title', t.title, 'summary', t.summary),
      'open_pr:' || t.id);
    pr := true;
  end if;
  return jsonb_build_object('taskId', t.id, 'status', t.status, 'executionStep', t.execution_step,
                            'branch', t.branch, 'changed', moved, 'pullRequestRequested', pr);
end $$;

-- A workspace reporting its own failure fails its task. workspace_failed used to call fail_task
-- after the workspace moved to failed, which revokes the workspace's token first, so fail_task no
-- longer recognised the caller and refused (42501). The failing is split out, unchecked, for
-- transitions that authorized their caller already; fail_task keeps its check.
create or replace function public.sam_fail_task(p_task uuid, p_error text) returns boolean
language plpgsql security definer set search_path = '' as $$
declare t public.tasks; moved boolean;
begin
  select * into t from public.tasks where id = p_task;
  moved := public.sam_task_move(p_task, array['draft', 'ready', 'queued', 'delegated', 'in_progress']::public.task_status[],
                                'failed', null, left(p_error, 500));
  if moved then
    update public.tasks set error_message = left(p_error, 4000) where id = p_task;
    perform public.sam_release_task(p_task, 'task failed');
    if t.chat_session_id is not null then
      insert into public.messages (session_id, project_id, owner_id, message_id, role, content, origin)
      values (t.chat_session_id, t.project_id, t.owner_id, 'task-failed', 'system',
              format('Task failed at step "%s": %s', coalesce(t.execution_step::text, t.status::text), p_error), 'system')
      on conflict (session_id, message_id) do nothing;
      update public.chat_sessions set status = 'failed', ended_at = public.sam_now()
       where id = t.chat_session_id and status = 'active';
    end if;
    perform public.sam_notify(t.owner_id, t.project_id, t.id, 'error', t.title, p_error, 'task_failed:' || t.id);
  end if;
  return moved;
end $$;

create or replace function public.fail_task(p_task uuid, p_error text) returns boolean
language plpgsql security definer set search_path = '' as $$
declare t public.tasks;
begin
  select * into t from public.tasks where id = p_task;
  perform public.sam_authorize_task(t, array['owner', 'self', 'parent']);
  return public.sam_fail_task(p_task, p_error);
end $$;

create or replace function public.workspace_failed(p_error text, p_workspace uuid default null) returns boolean
language plpgsql security definer set search_path = '' as $$
declare w public.workspaces := public.sam_authorize_workspace(coalesce(p_workspace, public.current_workspace_id()), false);
  moved boolean;
begin
  moved := public.sam_workspace_move(w.id, array['creating', 'ready', 'stopping']::public.workspace_status[], 'failed', p_error);
  if moved and w.task_id is not null
     and exists (select 1 from public.tasks where id = w.task_id and not public.is_terminal(status)) then
    perform public.sam_fail_task(w.task_id, 'workspace failed: ' || coalesce(p_error, ''));
  end if;
  return moved;
end $$;

-- As every migration ends: nothing executable by public or anon, everything by service_role, then
-- per role what it may call.
revoke execute on all functions in schema public from public, anon;
grant execute on all functions in schema public to service_role;
grant execute on function public.node_token_claims(), public.node_workspace_bootstrap(uuid) to sam_node;
grant execute on function public.record_agent_messages(uuid, jsonb), public.workspace_complete(jsonb, text)
  to sam_workspace;
