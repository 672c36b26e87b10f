-- A machine's provider instance id has one source: the provider's answer when the orchestrator
-- created it, recorded by node_provisioned. register_node no longer writes what the registering
-- agent says about its instance (`providerInstanceId` in p_info is accepted and ignored): a node
-- holding a bootstrap token could otherwise name another machine, which its destroy_node job would
-- then delete. The agent's reported address no longer erases the one the provider gave either.
-- Otherwise as part 10's version.
create or replace function public.register_node(p_token text, p_info jsonb default '{}') returns jsonb
language plpgsql security definer set search_path = '' as $$
declare nid uuid; n public.nodes; jti_ uuid; t record; now_ timestamptz := public.sam_now();
begin
  update public.tokens set used_at = now_
   where token_hash = extensions.digest(coalesce(p_token, ''), 'sha256') and kind = 'bootstrap'
     and used_at is null and revoked_at is null and expires_at > now_
  returning node_id into nid;
  if nid is null then raise exception 'invalid, used or expired bootstrap token' using errcode = '28000'; end if;
  update public.nodes set agent_version = p_info ->> 'agentVersion', ip_address = coalesce(p_info ->> 'ipAddress', ip_address),
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

-- Internal: the vm-agent function (service_role) only, whatever a platform grants by default.
revoke execute on function public.register_node(text, jsonb) from public, anon, authenticated;

-- As every migration ends: nothing executable by public or anon, everything by service_role.
revoke execute on all functions in schema public from public, anon;
grant execute on all functions in schema public to service_role;
