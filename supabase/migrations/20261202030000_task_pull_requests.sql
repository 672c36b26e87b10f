-- GitHub, the end of a task: the pull request the orchestrator opens (or adopts) after the push, its
-- state as GitHub's webhooks report it, and what a workspace may ask a GitHub token for.
--
-- The project's GitHub link (installation id, repository id, `owner/name`) is written by the
-- `github` function after proof (see the github links migration); the columns are declared here
-- too, with the same definitions and `if not exists`, so this migration stands on its own.

alter table public.projects add column if not exists github_installation_id bigint;
alter table public.projects add column if not exists github_repository_id bigint;
alter table public.projects add column if not exists github_full_name text;
create index if not exists projects_github_repository_idx on public.projects (github_repository_id)
  where github_repository_id is not null;

-- The pull request on the task: its number next to the url, and where it stands. `not_opened`: the
-- branch had nothing the base lacks; `failed`: GitHub refused for good (the event row says why).
alter table public.tasks add column if not exists pr_number integer check (pr_number is null or pr_number > 0);
alter table public.tasks add column if not exists pr_state text
  check (pr_state is null or pr_state in ('open', 'closed', 'merged', 'not_opened', 'failed'));

-- What GitHub said about an installation that SAM cannot learn otherwise: suspended, deleted.
-- Written only by the github-webhook function (as the system); nobody else reads or writes it.
create table if not exists public.github_installation_states (
  installation_id bigint primary key check (installation_id > 0),
  suspended_at timestamptz,
  deleted_at timestamptz,
  updated_at timestamptz not null default public.sam_now()
);
alter table public.github_installation_states enable row level security;
revoke all on public.github_installation_states from public, anon, authenticated;
grant all on public.github_installation_states to service_role;

-- The task the calling workspace works on, and the GitHub repository it may have a token for.
-- Refused for a workspace that has ended; `installationId` null when the project is not linked.
create or replace function public.workspace_git_target() returns jsonb
language plpgsql stable security definer set search_path = '' as $$
declare w public.workspaces := public.sam_authorize_workspace(public.current_workspace_id(), false);
  t public.tasks; p public.projects; s public.github_installation_states;
begin
  if public.is_terminal(w.status) then
    raise exception 'workspace % is %', w.id, w.status using errcode = '55000';
  end if;
  select * into t from public.tasks where id = w.task_id;
  select * into p from public.projects where id = w.project_id;
  select * into s from public.github_installation_states where installation_id = p.github_installation_id;
  return jsonb_build_object('taskId', t.id, 'projectId', p.id, 'repository', p.repository,
    'repoProvider', p.repo_provider, 'installationId', p.github_installation_id,
    'repositoryId', p.github_repository_id, 'fullName', p.github_full_name,
    'installationSuspended', s.suspended_at is not null, 'installationDeleted', s.deleted_at is not null);
end $$;

-- A task event that changes no state: what happened to the task's pull request, in words.
create or replace function public.sam_task_note(p_task public.tasks, p_reason text) returns void
language sql security definer set search_path = '' as $$
  insert into public.task_events (task_id, project_id, owner_id, actor_type, actor_id, from_status, to_status,
                                  from_step, to_step, reason)
  values (p_task.id, p_task.project_id, p_task.owner_id, coalesce(public.sam_caller(), 'system'), public.sam_actor_id(),
          p_task.status, p_task.status, p_task.execution_step, p_task.execution_step, left(p_reason, 2000))
$$;

-- The orchestrator opened (`created`) or found (`adopted`) the task's pull request. Repeat-safe: the
-- same number again changes nothing; the event, the broadcast and the notification happen once.
create or replace function public.record_task_pull_request(p_task uuid, p_number integer, p_url text, p_how text)
returns boolean language plpgsql security definer set search_path = '' as $$
declare t public.tasks;
begin
  if p_number is null or p_number <= 0 or p_url is null or p_url !~ '^https?://' or length(p_url) > 500 then
    raise exception 'a pull request needs a number and an http(s) url' using errcode = '22023';
  end if;
  select * into t from public.tasks where id = p_task for update;
  if t.id is null then raise exception 'task % not found', p_task using errcode = 'P0002'; end if;
  if t.pr_number is not distinct from p_number and t.pr_url is not distinct from p_url then
    return false;
  end if;
  update public.tasks set pr_number = p_number, pr_url = p_url, pr_state = 'open', updated_at = public.sam_now()
   where id = t.id returning * into t;
  perform public.sam_task_note(t, format('pull request #%s %s: %s', p_number,
    case p_how when 'adopted' then 'adopted (it was already open)' else 'opened' end, p_url));
  perform public.sam_notify(t.owner_id, t.project_id, t.id, 'pr_created', t.title,
    format('Pull request #%s for %s', p_number, coalesce(t.branch, 'the task branch')),
    'pr_created:' || t.id || ':' || p_number,
    jsonb_build_object('prNumber', p_number, 'prUrl', p_url, 'branch', t.branch, 'how', p_how));
  return true;
end $$;

-- No pull request, and why: the branch had no commits (`not_opened`) or GitHub refused for good
-- (`failed`, with a notification). A task whose pull request is open is not touched.
create or replace function public.record_task_no_pull_request(p_task uuid, p_state text, p_reason text)
returns boolean language plpgsql security definer set search_path = '' as $$
declare t public.tasks;
begin
  if p_state not in ('not_opened', 'failed') then
    raise exception 'no pull request is not_opened or failed, not %', p_state using errcode = '22023';
  end if;
  select * into t from public.tasks where id = p_task for update;
  if t.id is null then raise exception 'task % not found', p_task using errcode = 'P0002'; end if;
  if t.pr_state in ('open', 'closed', 'merged') or t.pr_state is not distinct from p_state then
    return false;
  end if;
  update public.tasks set pr_state = p_state, updated_at = public.sam_now() where id = t.id returning * into t;
  perform public.sam_task_note(t, p_reason);
  if p_state = 'failed' then
    perform public.sam_notify(t.owner_id, t.project_id, t.id, 'error', t.title, p_reason, 'pr_failed:' || t.id,
                              jsonb_build_object('branch', t.branch));
  end if;
  return true;
end $$;

-- GitHub says a pull request was closed (merged or not): every task with that pull request in that
-- repository follows, once per state change, with an event. Returns how many tasks changed.
create or replace function public.github_pull_request_closed(p_repository bigint, p_number integer, p_merged boolean,
                                                             p_merge_sha text default null)
returns integer language plpgsql security definer set search_path = '' as $$
declare r public.tasks; n integer := 0; target text := case when p_merged then 'merged' else 'closed' end;
begin
  for r in select t.* from public.tasks t join public.projects p on p.id = t.project_id
            where p.github_repository_id = p_repository and t.pr_number = p_number
              and t.pr_state in ('open', 'closed') and t.pr_state <> target
            for update of t loop
    update public.tasks set pr_state = target, updated_at = public.sam_now() where id = r.id;
    perform public.sam_task_note(r, format('pull request #%s %s on GitHub%s', p_number,
      case when p_merged then 'merged' else 'closed without merging' end,
      case when p_merged and p_merge_sha is not null then ' as ' || left(p_merge_sha, 40) else '' end));
    n := n + 1;
  end loop;
  return n;
end $$;

-- An `installation` event: suspension and deletion are remembered (git-token refuses in words);
-- a deleted installation also takes its links (the projects keep their repository url, not the link).
create or replace function public.github_installation_event(p_installation bigint, p_action text)
returns jsonb language plpgsql security definer set search_path = '' as $$
declare unlinked integer := 0; now_ timestamptz := public.sam_now();
begin
  if p_action in ('created', 'unsuspend', 'new_permissions_accepted') then
    insert into public.github_installation_states (installation_id, updated_at) values (p_installation, now_)
    on conflict (installation_id) do update set suspended_at = null, deleted_at = null, updated_at = now_;
  elsif p_action = 'suspend' then
    insert into public.github_installation_states (installation_id, suspended_at, updated_at)
    values (p_installation, now_, now_)
    on conflict (installation_id) do update set suspended_at = coalesce(github_installation_states.suspended_at, now_),
                                                updated_at = now_;
  elsif p_action = 'deleted' then
    insert into public.github_installation_states (installation_id, deleted_at, updated_at)
    values (p_installation, now_, now_)
    on conflict (installation_id) do update set deleted_at = coalesce(github_installation_states.deleted_at, now_),
                                                updated_at = now_;
    update public.projects set github_installation_id = null, github_repository_id = null, github_full_name = null,
           updated_at = now_
     where github_installation_id = p_installation;
    get diagnostics unlinked = row_count;
    if to_regclass('public.github_installations') is not null then
      execute 'delete from public.github_installations where installation_id = $1' using p_installation;
    end if;
  else
    return jsonb_build_object('action', p_action, 'ignored', true);
  end if;
  return jsonb_build_object('action', p_action, 'unlinkedProjects', unlinked);
end $$;

-- An `installation_repositories` event: projects on a repository the installation no longer
-- reaches lose their link (a token for it would be refused); the selection is kept current.
create or replace function public.github_installation_repositories_event(p_installation bigint, p_selection text,
                                                                         p_removed bigint[])
returns jsonb language plpgsql security definer set search_path = '' as $$
declare unlinked integer := 0;
begin
  update public.projects set github_installation_id = null, github_repository_id = null, github_full_name = null,
         updated_at = public.sam_now()
   where github_installation_id = p_installation and github_repository_id = any(coalesce(p_removed, '{}'));
  get diagnostics unlinked = row_count;
  if to_regclass('public.github_installations') is not null and p_selection in ('all', 'selected') then
    execute 'update public.github_installations set repository_selection = $2, updated_at = public.sam_now()
              where installation_id = $1 and repository_selection <> $2' using p_installation, p_selection;
  end if;
  return jsonb_build_object('unlinkedProjects', unlinked);
end $$;

-- The task broadcast carries the pull request's number and state, and fires when they change.
create or replace function public.sam_broadcast_task() returns trigger
language plpgsql security definer set search_path = '' as $$
declare payload jsonb;
begin
  payload := jsonb_build_object('taskId', new.id, 'projectId', new.project_id, 'status', new.status,
    'executionStep', new.execution_step, 'previousStatus', case when tg_op = 'UPDATE' then old.status end,
    'previousStep', case when tg_op = 'UPDATE' then old.execution_step end, 'title', new.title,
    'parentTaskId', new.parent_task_id, 'sessionId', new.chat_session_id, 'branch', new.branch, 'prUrl', new.pr_url,
    'prNumber', new.pr_number, 'prState', new.pr_state,
    'pushed', (new.completion_evidence #>> '{gitPush,pushed}')::boolean,
    'commitSha', new.completion_evidence #>> '{gitPush,commitSha}',
    'errorMessage', new.error_message, 'at', public.sam_now());
  perform realtime.send(payload, 'task', 'project:' || new.project_id, true);
  if new.chat_session_id is not null then
    perform realtime.send(payload, 'task', 'session:' || new.chat_session_id, true);
  end if;
  return null;
end $$;

drop trigger if exists tasks_broadcast_change on public.tasks;
create trigger tasks_broadcast_change
  after update of status, execution_step, branch, pr_url, pr_number, pr_state, completion_evidence, title on public.tasks
  for each row when (old.status is distinct from new.status or old.execution_step is distinct from new.execution_step
                     or old.branch is distinct from new.branch or old.pr_url is distinct from new.pr_url
                     or old.pr_number is distinct from new.pr_number or old.pr_state is distinct from new.pr_state
                     or old.title is distinct from new.title
                     or old.completion_evidence -> 'gitPush' is distinct from new.completion_evidence -> 'gitPush')
  execute function public.sam_broadcast_task();

revoke all on function public.workspace_git_target() from public, anon, authenticated;
grant execute on function public.workspace_git_target() to sam_workspace, service_role;
revoke all on function public.sam_task_note(public.tasks, text) from public, anon, authenticated;
revoke all on function public.record_task_pull_request(uuid, integer, text, text) from public, anon, authenticated;
revoke all on function public.record_task_no_pull_request(uuid, text, text) from public, anon, authenticated;
revoke all on function public.github_pull_request_closed(bigint, integer, boolean, text) from public, anon, authenticated;
revoke all on function public.github_installation_event(bigint, text) from public, anon, authenticated;
revoke all on function public.github_installation_repositories_event(bigint, text, bigint[])
  from public, anon, authenticated;
revoke execute on function public.sam_broadcast_task() from public, anon;

-- As every migration ends.
revoke execute on all functions in schema public from public, anon;
grant execute on all functions in schema public to service_role;
