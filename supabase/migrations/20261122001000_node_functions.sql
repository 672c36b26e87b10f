-- Control plane, part 10: nodes. Registration with a one-time bootstrap token (stored hashed),
-- heartbeats, the warm pool (claim with skip locked, at most one claim per node), placement, and
-- the command queue nodes long-poll.

-- The one place node status changes; repeat-safe, guarded, writes a lifecycle event.
create or replace function public.sam_node_move(p_node uuid, p_from public.node_status[], p_to public.node_status,
  p_reason text default null, p_warm_until timestamptz default null) returns boolean
language plpgsql security definer set search_path = '' as $$
declare old public.nodes; now_ timestamptz := public.sam_now();
begin
  select * into old from public.nodes where id = p_node for update;
  if old.id is null then raise exception 'node % not found', p_node using errcode = 'P0002'; end if;
  if old.status = p_to then return false; end if;
  update public.nodes set status = p_to, status_changed_at = now_, updated_at = now_,
      warm_since = case when p_to = 'warm' then now_ end,
      warm_until = case when p_to = 'warm' then p_warm_until end,
      claimed_by_task_id = case when p_to = 'active' then claimed_by_task_id end,
      destroyed_at = case when p_to = 'destroyed' then now_ end
   where id = p_node and status = any(p_from);
  if not found then
    raise exception 'node % cannot go from % to %', p_node, old.status, p_to using errcode = '55000';
  end if;
  insert into public.lifecycle_events (entity, entity_id, owner_id, from_state, to_state, actor_type, actor_id, reason)
  values ('node', p_node, old.owner_id, old.status::text, p_to::text, coalesce(public.sam_caller(), 'system'),
          public.sam_actor_id(), p_reason);
  return true;
end $$;

-- A node with nothing to do waits warm until warm_until (fresh timer every time).
create or replace function public.sam_node_go_warm(p_node uuid, p_reason text) returns boolean
language plpgsql security definer set search_path = '' as $$
declare proj uuid;
begin
  select project_id into proj from public.tasks where node_id = p_node order by updated_at desc limit 1;
  return public.sam_node_move(p_node, array['ready', 'active', 'unhealthy']::public.node_status[], 'warm', p_reason,
                              public.sam_now() + public.setting_interval('warm_timeout', proj));
end $$;

create or replace function public.destroy_node(p_node uuid, p_reason text) returns boolean
language plpgsql security definer set search_path = '' as $$
declare n public.nodes; moved boolean;
begin
  select * into n from public.nodes where id = p_node;
  if n.id is null or not (public.sam_caller() = 'system' or (public.sam_caller() = 'user' and n.owner_id = auth.uid())) then
    raise exception 'not allowed to destroy node %', p_node using errcode = '42501';
  end if;
  moved := public.sam_node_move(p_node, array['provisioning', 'ready', 'active', 'warm', 'unhealthy', 'failed']::public.node_status[],
                                'destroying', p_reason);
  if moved then
    update public.tokens set revoked_at = public.sam_now(), revoked_reason = 'node destroyed'
     where node_id = p_node and revoked_at is null;
    perform public.sam_enqueue_job('destroy_node', n.owner_id, null, null, p_node,
      jsonb_build_object('provider', n.provider, 'providerInstanceId', n.provider_instance_id), 'destroy_node:' || p_node);
  end if;
  return moved;
end $$;

-- Orchestrator: the provider confirmed the machine is gone / could not be created.
create or replace function public.mark_node_destroyed(p_node uuid) returns boolean
language sql security definer set search_path = '' as $$
  select public.sam_node_move(p_node, array['destroying']::public.node_status[], 'destroyed', 'provider confirmed')
$$;
create or replace function public.fail_node(p_node uuid, p_error text) returns boolean
language plpgsql security definer set search_path = '' as $$
begin
  update public.nodes set error_message = left(p_error, 4000) where id = p_node and status = 'provisioning';
  return public.sam_node_move(p_node, array['provisioning', 'ready', 'active', 'warm', 'unhealthy']::public.node_status[],
                              'failed', p_error);
end $$;
create or replace function public.mark_node_unhealthy(p_node uuid, p_reason text default 'stale heartbeat') returns boolean
language sql security definer set search_path = '' as $$
  select public.sam_node_move(p_node, array['ready', 'active', 'warm']::public.node_status[], 'unhealthy', p_reason)
$$;

-- Orchestrator: a one-time token for cloud-init; only its SHA-256 is stored.
create or replace function public.issue_bootstrap_token(p_node uuid) returns text
language plpgsql security definer set search_path = '' as $$
declare n public.nodes; tok text := translate(encode(extensions.gen_random_bytes(32), 'base64'), '+/=', '-_');
begin
  select * into n from public.nodes where id = p_node and status = 'provisioning';
  if n.id is null then raise exception 'node % is not provisioning', p_node using errcode = '55000'; end if;
  insert into public.tokens (kind, owner_id, node_id, token_hash, expires_at)
  values ('bootstrap', n.owner_id, n.id, extensions.digest(tok, 'sha256'),
          public.sam_now() + public.setting_interval('bootstrap_token_ttl'));
  return tok;
end $$;

-- The vm-agent function calls this with the bootstrap token; a used, expired or unknown token is refused.
create or replace function public.register_node(p_token text, p_info jsonb default '{}') returns jsonb
language plpgsql security definer set search_path = '' as $$
declare nid uuid; n public.nodes; jti_ uuid; t record; now_ timestamptz := public.sam_now();
begin
  update public.tokens set used_at = now_
   where token_hash = extensions.digest(coalesce(p_token, ''), 'sha256') and kind = 'bootstrap'
     and used_at is null and revoked_at is null and expires_at > now_
  returning node_id into nid;
  if nid is null then raise exception 'invalid, used or expired bootstrap token' using errcode = '28000'; end if;
  update public.nodes set agent_version = p_info ->> 'agentVersion', ip_address = p_info ->> 'ipAddress',
         provider_instance_id = coalesce(p_info ->> 'providerInstanceId', provider_instance_id),
         agent_ready_at = now_, last_heartbeat_at = now_
   where id = nid;
  perform public.sam_node_move(nid, array['provisioning']::public.node_status[], 'ready', 'registered');
  select * into n from public.nodes where id = nid;
  insert into public.tokens (kind, owner_id, node_id, expires_at)
  values ('node', n.owner_id, nid, now_ + public.setting_interval('node_token_ttl')) returning jti into jti_;
  for t in select id from public.tasks where auto_provisioned_node_id = nid and workspace_id is null
             and status in ('queued', 'delegated', 'in_progress') order by created_at loop
    perform public.sam_task_step(t.id, 'node_agent_ready', 'node registered');
    perform public.sam_request_workspace(t.id, nid);
  end loop;
  return jsonb_build_object('nodeId', nid, 'jti', jti_, 'expiresAt', now_ + public.setting_interval('node_token_ttl'),
    'heartbeatIntervalSeconds', extract(epoch from public.setting_interval('heartbeat_interval'))::int);
end $$;

-- Heartbeat: liveness only. It never counts as workspace activity. Slides the node token.
create or replace function public.node_heartbeat(p_info jsonb default '{}') returns jsonb
language plpgsql security definer set search_path = '' as $$
declare nid uuid := public.current_node_id(); n public.nodes; now_ timestamptz := public.sam_now();
begin
  if nid is null then raise exception 'a node token is required' using errcode = '42501'; end if;
  update public.nodes set last_heartbeat_at = now_, agent_version = coalesce(p_info ->> 'agentVersion', agent_version),
         last_metrics = coalesce(p_info -> 'metrics', last_metrics)
   where id = nid and status in ('ready', 'active', 'warm', 'unhealthy')
  returning * into n;
  if n.status = 'unhealthy' then
    if exists (select 1 from public.workspaces where node_id = nid and status in ('creating', 'ready', 'stopping')) then
      perform public.sam_node_move(nid, array['unhealthy']::public.node_status[], 'active', 'heartbeat resumed');
    else
      perform public.sam_node_go_warm(nid, 'heartbeat resumed');
    end if;
  end if;
  update public.tokens set expires_at = now_ + public.setting_interval('node_token_ttl')
   where jti = public.sam_claim_uuid('jti') and kind = 'node';
  select * into n from public.nodes where id = nid;
  return jsonb_build_object('nodeId', nid, 'status', n.status,
    'pendingCommands', (select count(*) from public.node_commands where node_id = nid and status = 'pending'));
end $$;

-- Claims a warm node of the task's owner for the task: skip locked, so concurrent claimers never
-- wait on or share a node; the unique index tasks_one_claim_per_node backs "one claim per node".
create or replace function public.claim_warm_node(p_task uuid) returns uuid
language plpgsql security definer set search_path = '' as $$
declare t public.tasks; nid uuid; now_ timestamptz := public.sam_now();
begin
  select * into t from public.tasks where id = p_task for update;
  if t.claimed_warm_node_id is not null then return t.claimed_warm_node_id; end if;
  if not public.is_active(t.status) then return null; end if;
  select n.id into nid from public.nodes n
   where n.owner_id = t.owner_id and n.status = 'warm' and n.vm_size >= coalesce(t.vm_size, 'small')
     and n.warm_until > now_ and n.last_heartbeat_at > now_ - public.setting_interval('heartbeat_stale', t.project_id)
   order by n.vm_size = t.vm_size desc, n.vm_size, n.warm_since
   limit 1 for update skip locked;
  if nid is null then return null; end if;
  perform public.sam_node_move(nid, array['warm']::public.node_status[], 'active', 'claimed by task ' || p_task);
  update public.nodes set claimed_by_task_id = p_task where id = nid;
  update public.tasks set claimed_warm_node_id = nid, node_id = nid where id = p_task;
  return nid;
end $$;

-- A workspace for the task on the node, the create_workspace command, and queued → delegated.
create or replace function public.sam_request_workspace(p_task uuid, p_node uuid) returns uuid
language plpgsql security definer set search_path = '' as $$
declare t public.tasks; p public.projects; wid uuid; n public.nodes;
begin
  select * into t from public.tasks where id = p_task for update;
  select id into wid from public.workspaces where task_id = p_task and status in ('creating', 'ready', 'stopping');
  if wid is not null then return wid; end if;
  select * into p from public.projects where id = t.project_id;
  select * into n from public.nodes where id = p_node;
  insert into public.workspaces (project_id, owner_id, node_id, task_id, chat_session_id, branch, base_branch, workspace_profile)
  values (t.project_id, t.owner_id, p_node, t.id, t.chat_session_id, t.branch, coalesce(t.base_branch, p.default_branch),
          coalesce(t.workspace_profile, 'full'))
  returning id into wid;
  insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, to_state, actor_type, actor_id, reason)
  values ('workspace', wid, t.owner_id, t.project_id, 'creating', coalesce(public.sam_caller(), 'system'), public.sam_actor_id(),
          'for task ' || t.id);
  update public.tasks set workspace_id = wid, node_id = p_node where id = p_task;
  update public.chat_sessions set workspace_id = wid where id = t.chat_session_id;
  if n.status in ('ready', 'warm') then
    perform public.sam_node_move(p_node, array['ready', 'warm']::public.node_status[], 'active', 'workspace ' || wid);
  end if;
  update public.nodes set last_activity_at = public.sam_now() where id = p_node;
  insert into public.node_commands (node_id, owner_id, workspace_id, kind, payload, dedupe_key)
  values (p_node, t.owner_id, wid, 'create_workspace', jsonb_build_object('workspaceId', wid, 'taskId', t.id,
          'repository', p.repository, 'repoProvider', p.repo_provider, 'branch', t.branch,
          'baseBranch', coalesce(t.base_branch, p.default_branch), 'defaultBranch', p.default_branch,
          'lightweight', t.workspace_profile = 'lightweight'), 'create_workspace:' || wid)
  on conflict (dedupe_key) do nothing;
  perform public.sam_task_step(p_task, 'workspace_creation', 'workspace ' || wid);
  perform public.sam_task_move(p_task, array['queued']::public.task_status[], 'delegated', null, 'workspace requested');
  return wid;
end $$;

-- Flow 2: a warm node of the owner, else a new node and a provision_node job. Safe to repeat.
create or replace function public.place_task(p_task uuid) returns text
language plpgsql security definer set search_path = '' as $$
declare t public.tasks; nid uuid;
begin
  select * into t from public.tasks where id = p_task for update;
  if not public.is_active(t.status) or t.node_id is not null or t.auto_provisioned_node_id is not null then
    return 'placed';
  end if;
  nid := public.claim_warm_node(p_task);
  if nid is not null then
    perform public.sam_request_workspace(p_task, nid);
    return 'warm';
  end if;
  insert into public.nodes (owner_id, name, provider, vm_size, auto_provisioned)
  values (t.owner_id, 'Auto: ' || left(t.title, 40), coalesce(t.provider, 'local'), coalesce(t.vm_size, 'medium'), true)
  returning id into nid;
  insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, to_state, actor_type, actor_id, reason)
  values ('node', nid, t.owner_id, t.project_id, 'provisioning', coalesce(public.sam_caller(), 'system'), public.sam_actor_id(),
          'for task ' || t.id);
  update public.tasks set auto_provisioned_node_id = nid where id = p_task;
  perform public.sam_task_step(p_task, 'node_provisioning', 'no warm node');
  perform public.sam_enqueue_job('provision_node', t.owner_id, t.project_id, t.id, nid,
    jsonb_build_object('provider', coalesce(t.provider, 'local'), 'vmSize', coalesce(t.vm_size, 'medium')),
    'provision_node:' || nid);
  return 'provisioning';
end $$;

-- Nodes long-poll their commands; each is delivered once and acknowledged once.
create or replace function public.poll_node_commands(p_limit integer default 10) returns setof public.node_commands
language plpgsql security definer set search_path = '' as $$
declare nid uuid := public.current_node_id();
begin
  if nid is null then raise exception 'a node token is required' using errcode = '42501'; end if;
  return query update public.node_commands c set status = 'delivered', delivered_at = public.sam_now()
    where c.id in (select id from public.node_commands where node_id = nid and status = 'pending'
                   order by created_at limit least(greatest(p_limit, 1), 100) for update skip locked)
    returning c.*;
end $$;

create or replace function public.ack_node_command(p_command uuid, p_ok boolean, p_result jsonb default null) returns boolean
language plpgsql security definer set search_path = '' as $$
declare nid uuid := public.current_node_id();
begin
  if nid is null then raise exception 'a node token is required' using errcode = '42501'; end if;
  update public.node_commands set status = case when p_ok then 'done' else 'failed' end::public.node_command_status,
         result = p_result, completed_at = public.sam_now()
   where id = p_command and node_id = nid and status in ('pending', 'delivered');
  return found;
end $$;
