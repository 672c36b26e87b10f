-- Sessions that survive crashes and restarts, and work that cannot get stuck.
--
-- * agent_session_recovered: the vm-agent restarted a crashed agent and loaded its session again;
--   the session is idle and the task waits for the user's follow-up (step awaiting_followup).
-- * start_agent_session is idempotent per workspace: a restarted vm-agent asking again gets the
--   workspace's live session back with a fresh agent token (the earlier tokens revoked), never a
--   second session.
-- * register_node is idempotent within the bootstrap token's lifetime: a vm-agent that died after
--   registering but before it kept its node token registers again and gets the same node with a
--   fresh node token (the earlier node tokens revoked).
-- * Step timeouts also cover agent_session, running and awaiting_followup (typed settings, per
--   project); awaiting_followup counts from the workspace's last activity.
-- * A node silent past heartbeat_dead has its live workspaces failed, in words.

insert into public.settings (key, value, kind, description, min_value, max_value, project_override) values
  ('agent_session_timeout', '"15 minutes"', 'interval',
   'agent_session step limit: the agent was started but never became ready', '"1 second"', '"1 day"', 'any'),
  ('running_timeout', '"8 hours"', 'interval',
   'running step limit: how long one task may work', '"1 second"', '"7 days"', 'any'),
  ('awaiting_followup_timeout', '"24 hours"', 'interval',
   'awaiting_followup step limit, counted from the workspace''s last activity', '"1 second"', '"30 days"', 'any'),
  ('heartbeat_dead', '"10 minutes"', 'interval',
   'a node silent this long has its live workspaces failed (> heartbeat_stale)', '"1 second"', '"7 days"', 'none')
on conflict (key) do nothing;

-- recovering -> idle after a crash recovered by session/load; the task waits for the human.
create or replace function public.agent_session_recovered(p_id uuid, p_reason text default 'agent recovered')
returns boolean language plpgsql security definer set search_path = '' as $$
declare moved boolean; s public.agent_sessions; t public.tasks;
begin
  moved := public.sam_agent_session_move(p_id, array['recovering']::public.agent_session_status[], 'idle',
                                         left(coalesce(p_reason, 'agent recovered'), 500));
  if not moved then return false; end if;
  select * into s from public.agent_sessions where id = p_id;
  select * into t from public.tasks where id = s.task_id;
  if t.id is not null and t.status in ('delegated', 'in_progress') then
    perform public.sam_task_step(t.id, 'awaiting_followup', 'agent crashed and was recovered');
    perform public.sam_notify(t.owner_id, t.project_id, t.id, 'needs_input', t.title,
      'The agent crashed mid-turn and was recovered. Send a message to continue.',
      'agent_recovered:' || p_id || ':' || extract(epoch from public.sam_now()));
  end if;
  return true;
end $$;
revoke all on function public.agent_session_recovered(uuid, text) from public;
grant execute on function public.agent_session_recovered(uuid, text) to service_role, sam_workspace;

create or replace function public.start_agent_session(p_agent_type text default null, p_workspace uuid default null)
returns jsonb language plpgsql security definer set search_path = '' as $$
declare w public.workspaces := public.sam_authorize_workspace(coalesce(p_workspace, public.current_workspace_id()), false);
  t public.tasks; s public.agent_sessions; sid uuid; j uuid; now_ timestamptz := public.sam_now(); exp timestamptz;
  cap timestamptz;
begin
  if w.status <> 'ready' then raise exception 'workspace % is %', w.id, w.status using errcode = '55000'; end if;
  select * into t from public.tasks where id = w.task_id;
  -- One live session per workspace: asking again (a restarted vm-agent) resumes it.
  select * into s from public.agent_sessions
   where workspace_id = w.id and status in ('starting', 'idle', 'prompting', 'recovering')
   order by created_at desc limit 1 for update;
  if s.id is not null then
    sid := s.id;
    select max(max_expires_at) into cap from public.tokens where agent_session_id = sid and kind = 'agent';
    update public.tokens set revoked_at = now_, revoked_reason = 'agent session resumed with a new token'
     where agent_session_id = sid and kind = 'agent' and revoked_at is null;
    insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, from_state, to_state, actor_type, actor_id, reason)
    values ('agent_session', sid, w.owner_id, w.project_id, s.status::text, s.status::text,
            coalesce(public.sam_caller(), 'system'), public.sam_actor_id(), 'session resumed');
  else
    insert into public.agent_sessions (project_id, owner_id, workspace_id, chat_session_id, task_id, agent_type)
    values (w.project_id, w.owner_id, w.id, w.chat_session_id, w.task_id,
            coalesce(p_agent_type, t.agent_type, (select p.default_agent_type from public.projects p where p.id = w.project_id)))
    returning id into sid;
    insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, to_state, actor_type, actor_id)
    values ('agent_session', sid, w.owner_id, w.project_id, 'starting', coalesce(public.sam_caller(), 'system'), public.sam_actor_id());
  end if;
  -- A resumed session keeps its hard cap; only the sliding window is fresh.
  cap := coalesce(cap, now_ + public.setting_interval('agent_token_max', w.project_id));
  exp := least(now_ + public.setting_interval('agent_token_ttl', w.project_id), cap);
  insert into public.tokens (kind, owner_id, project_id, node_id, workspace_id, agent_session_id, task_id, expires_at, max_expires_at)
  values ('agent', w.owner_id, w.project_id, w.node_id, w.id, sid, w.task_id, exp, cap)
  returning jti into j;
  if t.id is not null then perform public.sam_task_step(t.id, 'agent_session', 'agent session ' || sid); end if;
  return jsonb_build_object('agentSessionId', sid, 'jti', j, 'role', 'sam_agent', 'agent_session_id', sid,
    'workspace_id', w.id, 'project_id', w.project_id, 'task_id', w.task_id, 'exp', extract(epoch from exp)::bigint,
    'resumed', s.id is not null);
end $$;

create or replace function public.register_node(p_token text, p_info jsonb default '{}'::jsonb)
returns jsonb language plpgsql security definer set search_path = '' as $$
declare nid uuid; n public.nodes; jti_ uuid; t record; now_ timestamptz := public.sam_now(); again boolean := false;
begin
  update public.tokens set used_at = now_
   where token_hash = extensions.digest(coalesce(p_token, ''), 'sha256') and kind = 'bootstrap'
     and used_at is null and revoked_at is null and expires_at > now_
  returning node_id into nid;
  if nid is null then
    -- Registering again with the same token, still within its lifetime: the machine lost its node
    -- token before it could keep it. Same node, fresh token; the earlier ones stop counting.
    select b.node_id into nid from public.tokens b join public.nodes n2 on n2.id = b.node_id
     where b.token_hash = extensions.digest(coalesce(p_token, ''), 'sha256') and b.kind = 'bootstrap'
       and b.used_at is not null and b.revoked_at is null and b.expires_at > now_
       and n2.status in ('ready', 'active', 'warm', 'unhealthy');
    if nid is null then raise exception 'invalid, used or expired bootstrap token' using errcode = '28000'; end if;
    again := true;
    update public.tokens set revoked_at = now_, revoked_reason = 'node registered again'
     where node_id = nid and kind = 'node' and revoked_at is null;
  end if;
  update public.nodes set agent_version = p_info ->> 'agentVersion', ip_address = coalesce(p_info ->> 'ipAddress', ip_address),
         agent_ready_at = coalesce(agent_ready_at, now_), last_heartbeat_at = now_
   where id = nid;
  if not again then
    perform public.sam_node_move(nid, array['provisioning']::public.node_status[], 'ready', 'registered');
  end if;
  select * into n from public.nodes where id = nid;
  insert into public.tokens (kind, owner_id, node_id, expires_at)
  values ('node', n.owner_id, nid, now_ + public.setting_interval('node_token_ttl')) returning jti into jti_;
  if again then
    insert into public.lifecycle_events (entity, entity_id, owner_id, from_state, to_state, actor_type, actor_id, reason)
    values ('node', nid, n.owner_id, n.status::text, n.status::text, 'node', nid::text, 'registered again');
  end if;
  for t in select id from public.tasks where auto_provisioned_node_id = nid and workspace_id is null
             and status in ('queued', 'delegated', 'in_progress') order by created_at loop
    perform public.sam_task_step(t.id, 'node_agent_ready', 'node registered');
    perform public.sam_request_workspace(t.id, nid);
  end loop;
  return jsonb_build_object('nodeId', nid, 'jti', jti_, 'expiresAt', now_ + public.setting_interval('node_token_ttl'),
    'heartbeatIntervalSeconds', extract(epoch from public.setting_interval('heartbeat_interval'))::int);
end $$;

create or replace function public.sweep_step_timeouts()
returns integer language plpgsql security definer set search_path = '' as $$
declare r record; n integer := 0; lim integer := public.setting_int('sweep_batch'); now_ timestamptz := public.sam_now();
begin
  for r in
    with rules(step, key) as (values ('node_provisioning'::public.task_step, 'provisioning_timeout'),
                                     ('node_agent_ready', 'agent_ready_timeout'),
                                     ('workspace_creation', 'workspace_ready_timeout'),
                                     ('workspace_ready', 'workspace_ready_timeout'),
                                     ('agent_session', 'agent_session_timeout'),
                                     ('running', 'running_timeout'),
                                     ('awaiting_followup', 'awaiting_followup_timeout'))
    select c.id, c.step, c.key, c.project_id from rules
    cross join lateral (
      -- Waiting for a follow-up counts from the last thing that happened in the workspace.
      select t.id, rules.step, rules.key, t.project_id,
             case when rules.step = 'awaiting_followup'
                  then greatest(t.step_changed_at, coalesce(w.last_activity_at, t.step_changed_at))
                  else t.step_changed_at end as since
        from public.tasks t left join public.workspaces w on w.id = t.workspace_id
       where t.status in ('queued', 'delegated', 'in_progress') and t.execution_step = rules.step
         and t.step_changed_at <= now_ - public.sam_min_interval(rules.key)
       order by t.step_changed_at limit lim) c
    where c.since <= now_ - public.setting_interval(c.key, c.project_id)
    limit lim
  loop
    begin
      if public.fail_task(r.id, case r.step
            when 'agent_session' then format('The agent did not start within %s (step agent_session)',
                                             public.setting_interval(r.key, r.project_id))
            when 'running' then format('The task ran longer than its limit of %s (step running)',
                                       public.setting_interval(r.key, r.project_id))
            when 'awaiting_followup' then format('No follow-up came within %s of the last activity (step awaiting_followup)',
                                                 public.setting_interval(r.key, r.project_id))
            else format('Timed out at step %s after %s', r.step, public.setting_interval(r.key, r.project_id)) end) then
        n := n + 1;
      end if;
    exception when others then
      raise warning 'sweep_step_timeouts: task % skipped: % (SQLSTATE %)', r.id, sqlerrm, sqlstate;
    end;
  end loop;
  for r in select t.id from public.tasks t
            where t.status = 'queued' and t.status_changed_at <= now_ - public.sam_min_interval('queued_timeout')
              and t.status_changed_at <= now_ - public.setting_interval('queued_timeout', t.project_id)
            order by t.status_changed_at limit lim loop
    begin
      if public.fail_task(r.id, 'Timed out waiting in the queue') then n := n + 1; end if;
    exception when others then
      raise warning 'sweep_step_timeouts: task % skipped: % (SQLSTATE %)', r.id, sqlerrm, sqlstate;
    end;
  end loop;
  -- Machines that never registered.
  for r in select id from public.nodes where status = 'provisioning'
              and status_changed_at <= now_ - public.setting_interval('provisioning_timeout')
            order by status_changed_at limit lim for update skip locked loop
    begin
      if public.destroy_node(r.id, 'provisioning timeout') then n := n + 1; end if;
    exception when others then
      raise warning 'sweep_step_timeouts: node % skipped: % (SQLSTATE %)', r.id, sqlerrm, sqlstate;
    end;
  end loop;
  return n;
end $$;

create or replace function public.sweep_stale_heartbeats()
returns integer language plpgsql security definer set search_path = '' as $$
declare r record; w record; n integer := 0; now_ timestamptz := public.sam_now();
begin
  for r in select id from public.nodes where status in ('ready', 'active', 'warm')
              and last_heartbeat_at <= now_ - public.setting_interval('heartbeat_stale')
            order by last_heartbeat_at limit public.setting_int('sweep_batch') for update skip locked loop
    begin
      if public.mark_node_unhealthy(r.id, 'stale heartbeat') then n := n + 1; end if;
    exception when others then
      raise warning 'sweep_stale_heartbeats: node % skipped: % (SQLSTATE %)', r.id, sqlerrm, sqlstate;
    end;
  end loop;
  -- Silent for good: what ran there is gone, and its tasks say so.
  for r in select id, name, last_heartbeat_at from public.nodes where status = 'unhealthy'
              and last_heartbeat_at <= now_ - public.setting_interval('heartbeat_dead')
              and exists (select 1 from public.workspaces x where x.node_id = nodes.id and x.status in ('creating', 'ready', 'stopping'))
            order by last_heartbeat_at limit public.setting_int('sweep_batch') for update skip locked loop
    for w in select id from public.workspaces where node_id = r.id and status in ('creating', 'ready', 'stopping')
              order by created_at loop
      begin
        if public.sam_fail_workspace(w.id, format(
             'The machine %s stopped sending heartbeats at %s and has been silent for %s; the work on it is lost. Re-run the task to start again.',
             coalesce(r.name, r.id::text), to_char(r.last_heartbeat_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'),
             date_trunc('second', now_ - r.last_heartbeat_at))) then
          n := n + 1;
        end if;
      exception when others then
        raise warning 'sweep_stale_heartbeats: workspace % skipped: % (SQLSTATE %)', w.id, sqlerrm, sqlstate;
      end;
    end loop;
  end loop;
  return n;
end $$;
