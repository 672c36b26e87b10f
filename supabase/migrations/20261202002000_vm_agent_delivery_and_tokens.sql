-- The vm-agent's line to the control plane survives lost answers and long outages.
--
-- Commands are delivered at least once: a command handed out but not acknowledged within the
-- `node_command_lease` is handed out again (same id; the machine applies each id once), and one
-- handed out `node_command_max_deliveries` times without an acknowledgement is failed.
--
-- Tokens outlive long work: the node's heartbeat slides the tokens of the workspaces it still
-- runs (a token whose row expired is slid too — the node is authenticated and the workspace live;
-- a revoked one never is), a node token that expired during an outage can be renewed within
-- `node_token_renew_grace` while unrevoked and its node not being destroyed, and the agent JWT's
-- `exp` is its row's hard cap (the sliding window in the row decides before that).

insert into public.settings (key, value, kind, description) values
  ('node_command_lease', '"60 seconds"', 'interval',
   'a command handed to a node and not acknowledged within this is handed out again'),
  ('node_command_max_deliveries', '10', 'integer',
   'a command handed out this often without an acknowledgement is failed'),
  ('node_token_renew_grace', '"7 days"', 'interval',
   'how long after its expiry an unrevoked node token of a live node may still be renewed')
on conflict (key) do nothing;

alter table public.node_commands add column if not exists deliveries integer not null default 0;
comment on column public.node_commands.deliveries is 'how often the command was handed out (at least once delivery)';
update public.node_commands set deliveries = 1 where deliveries = 0 and delivered_at is not null;

-- Nodes long-poll their commands: pending ones, and delivered ones whose lease ran out without an
-- acknowledgement (the answer may never have reached the machine), oldest first.
create or replace function public.poll_node_commands(p_limit integer default 10) returns setof public.node_commands
language plpgsql security definer set search_path = '' as $$
declare nid uuid := public.current_node_id(); now_ timestamptz := public.sam_now();
  lease interval := public.setting_interval('node_command_lease');
  most integer := public.setting_int('node_command_max_deliveries');
begin
  if nid is null then raise exception 'a node token is required' using errcode = '42501'; end if;
  update public.node_commands
     set status = 'failed', completed_at = now_,
         result = jsonb_build_object('error', format('not acknowledged after %s deliveries', deliveries))
   where node_id = nid and status = 'delivered' and deliveries >= most and delivered_at <= now_ - lease;
  return query update public.node_commands c
      set status = 'delivered', delivered_at = now_, deliveries = c.deliveries + 1
    where c.id in (select id from public.node_commands
                    where node_id = nid
                      and (status = 'pending' or (status = 'delivered' and delivered_at <= now_ - lease))
                    order by created_at limit least(greatest(p_limit, 1), 100) for update skip locked)
    returning c.*;
end $$;

-- The heartbeat's second half: for each workspace the machine says it runs, the claims of its
-- newest unrevoked token slid to a fresh expiry (`tokens`), or its id in `ended` when it is no
-- longer live on the calling node. A live workspace whose tokens were all revoked gets neither.
create or replace function public.node_refresh_workspace_tokens(p_workspaces uuid[]) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare nid uuid := public.current_node_id(); now_ timestamptz := public.sam_now(); w record; j uuid;
  exp timestamptz := public.sam_now() + public.setting_interval('workspace_token_ttl');
  live jsonb := '[]'; ended jsonb := '[]';
begin
  if nid is null then raise exception 'a node token is required' using errcode = '42501'; end if;
  for w in select u.id, ws.id as wid, ws.node_id, ws.project_id
             from unnest(coalesce(p_workspaces, '{}')) with ordinality as u(id, n)
             left join public.workspaces ws on ws.id = u.id and ws.node_id = nid
                                           and ws.status in ('creating', 'ready', 'stopping')
            order by u.n limit 100 loop
    if w.wid is null then
      ended := ended || to_jsonb(w.id);
      continue;
    end if;
    update public.tokens set expires_at = exp
     where jti = (select jti from public.tokens
                   where workspace_id = w.wid and kind = 'workspace' and revoked_at is null
                   order by issued_at desc, expires_at desc limit 1)
    returning jti into j;
    if j is not null then
      live := live || jsonb_build_object('jti', j, 'role', 'sam_workspace', 'workspace_id', w.wid,
        'node_id', w.node_id, 'project_id', w.project_id, 'exp', extract(epoch from exp)::bigint);
    end if;
  end loop;
  return jsonb_build_object('tokens', live, 'ended', ended);
end $$;

-- A node token that expired (an outage longer than its lifetime) is renewed, same jti, when its
-- row is unrevoked, expired less than `node_token_renew_grace` ago and its node still live.
-- Answers the claims to sign, or `{refused: revoked|expired|unknown|node_gone}`.
create or replace function public.renew_node_token() returns jsonb
language plpgsql security definer set search_path = '' as $$
declare t public.tokens; n public.nodes; now_ timestamptz := public.sam_now();
  exp timestamptz := public.sam_now() + public.setting_interval('node_token_ttl');
begin
  if public.sam_role() <> 'sam_node' then raise exception 'a node token is required' using errcode = '42501'; end if;
  select * into t from public.tokens
   where jti = public.sam_claim_uuid('jti') and kind = 'node' and node_id = public.sam_claim_uuid('node_id')
   for update;
  if t.jti is null then return jsonb_build_object('refused', 'unknown'); end if;
  if t.revoked_at is not null then return jsonb_build_object('refused', 'revoked'); end if;
  if t.expires_at <= now_ - public.setting_interval('node_token_renew_grace') then
    return jsonb_build_object('refused', 'expired');
  end if;
  select * into n from public.nodes where id = t.node_id;
  if n.status is null or n.status not in ('ready', 'active', 'warm', 'unhealthy') then
    return jsonb_build_object('refused', 'node_gone');
  end if;
  update public.tokens set expires_at = greatest(expires_at, exp) where jti = t.jti returning expires_at into exp;
  return jsonb_build_object('jti', t.jti, 'node_id', t.node_id, 'exp', extract(epoch from exp)::bigint);
end $$;

-- The hard cap of the calling workspace's agent session's token: the agent JWT's `exp`.
create or replace function public.agent_session_token_cap(p_agent_session uuid) returns bigint
language sql stable security definer set search_path = '' as $$
  select extract(epoch from t.max_expires_at)::bigint from public.tokens t
   where t.agent_session_id = p_agent_session and t.kind = 'agent'
     and t.workspace_id = public.current_workspace_id() and t.max_expires_at is not null
   order by t.issued_at desc limit 1
$$;

revoke execute on all functions in schema public from public, anon;
grant execute on all functions in schema public to service_role;
revoke execute on function public.node_refresh_workspace_tokens(uuid[]), public.renew_node_token(),
  public.agent_session_token_cap(uuid) from authenticated;
grant execute on function public.node_refresh_workspace_tokens(uuid[]), public.renew_node_token() to sam_node;
grant execute on function public.agent_session_token_cap(uuid) to sam_workspace;
