-- Tasks: the chat learns when the agent's work is on the branch. A task-mode task completes when
-- the agent calls complete_task; the vm-agent pushes just after, and workspace_complete records the
-- push (and the branch that was pushed) on the task. Until now that update was not broadcast, so
-- the chat showed "Completed" and a branch that might not exist yet. The broadcast now carries
-- `pushed` and `commitSha`, and also fires when the branch, the PR url or the push evidence change.

create or replace function public.sam_broadcast_task() returns trigger
language plpgsql security definer set search_path = '' as $$
declare payload jsonb;
begin
  payload := jsonb_build_object('taskId', new.id, 'projectId', new.project_id, 'status', new.status,
    'executionStep', new.execution_step, 'previousStatus', case when tg_op = 'UPDATE' then old.status end,
    'previousStep', case when tg_op = 'UPDATE' then old.execution_step end, 'title', new.title,
    'parentTaskId', new.parent_task_id, 'sessionId', new.chat_session_id, 'branch', new.branch, 'prUrl', new.pr_url,
    'pushed', (new.completion_evidence #>> '{gitPush,pushed}')::boolean,
    'commitSha', new.completion_evidence #>> '{gitPush,commitSha}',
    'errorMessage', new.error_message, 'at', public.sam_now());
  perform realtime.send(payload, 'task', 'project:' || new.project_id, true);
  if new.chat_session_id is not null then
    perform realtime.send(payload, 'task', 'session:' || new.chat_session_id, true);
  end if;
  return null;
end $$;

create or replace trigger tasks_broadcast_change
  after update of status, execution_step, branch, pr_url, completion_evidence on public.tasks
  for each row when (old.status is distinct from new.status or old.execution_step is distinct from new.execution_step
                     or old.branch is distinct from new.branch or old.pr_url is distinct from new.pr_url
                     or old.completion_evidence -> 'gitPush' is distinct from new.completion_evidence -> 'gitPush')
  execute function public.sam_broadcast_task();

revoke execute on function public.sam_broadcast_task() from public, anon;

-- As every migration ends.
revoke execute on all functions in schema public from public, anon;
grant execute on all functions in schema public to service_role;
