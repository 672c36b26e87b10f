-- Control plane, part 6: identities. Users are `authenticated` (auth.uid()); nodes, workspaces and
-- agents carry JWTs signed by SAM's own key, verified by the edge functions, which then run
-- `set local role sam_node|sam_workspace|sam_agent` + `request.jwt.claims`. A claim set counts only
-- while its `tokens` row (by jti) is of the right kind, unexpired and unrevoked.

do $$
declare r text;
begin
  foreach r in array array['sam_node', 'sam_workspace', 'sam_agent'] loop
    if not exists (select 1 from pg_roles where rolname = r) then
      execute format('create role %I nologin noinherit', r);
    end if;
  end loop;
end $$;
grant sam_node, sam_workspace, sam_agent to authenticator;
grant sam_node, sam_workspace, sam_agent to postgres;
grant usage on schema public to sam_node, sam_workspace, sam_agent;

-- The role the statement runs as, even inside SECURITY DEFINER functions (the `role` setting is
-- the caller's `set role`; without one, the login role).
create or replace function public.sam_role() returns text
language sql stable set search_path = '' as $$
  select coalesce(nullif(nullif(current_setting('role', true), 'none'), ''), session_user::text)
$$;

-- Who is calling: user, node, workspace, agent, system (migration role, service_role, superuser), or null.
create or replace function public.sam_caller() returns public.actor_type
language sql stable set search_path = '' as $$
  select case public.sam_role()
    when 'authenticated' then 'user'
    when 'sam_node' then 'node'
    when 'sam_workspace' then 'workspace'
    when 'sam_agent' then 'agent'
    when 'service_role' then 'system'
    when 'postgres' then 'system'
    when 'supabase_admin' then 'system'
  end::public.actor_type
$$;

create or replace function public.sam_claim(p_name text) returns text
language sql stable security definer set search_path = '' as $$ select auth.jwt() ->> p_name $$;

create or replace function public.sam_claim_uuid(p_name text) returns uuid
language sql stable security definer set search_path = '' as $$
  select case when v ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then v::uuid end
  from (select auth.jwt() ->> p_name as v) c
$$;

-- The caller's valid token of a kind: right role, jti known, kind matches, scope id matches the
-- claim, not expired (sliding and hard cap), not revoked. Empty otherwise.
create or replace function public.sam_token(p_kind public.token_kind) returns setof public.tokens
language sql stable security definer set search_path = '' as $$
  select t.* from public.tokens t
  where t.jti = public.sam_claim_uuid('jti')
    and t.kind = p_kind
    and public.sam_role() = case p_kind when 'node' then 'sam_node' when 'workspace' then 'sam_workspace'
                                        when 'agent' then 'sam_agent' end
    and t.revoked_at is null
    and t.expires_at > public.sam_now()
    and (t.max_expires_at is null or t.max_expires_at > public.sam_now())
    and case p_kind
          when 'node' then t.node_id = public.sam_claim_uuid('node_id')
          when 'workspace' then t.workspace_id = public.sam_claim_uuid('workspace_id')
          when 'agent' then t.agent_session_id = public.sam_claim_uuid('agent_session_id')
        end
$$;

create or replace function public.current_user_id() returns uuid
language sql stable security definer set search_path = '' as $$
  select case when public.sam_role() = 'authenticated' then auth.uid() end
$$;
create or replace function public.current_node_id() returns uuid
language sql stable security definer set search_path = '' as $$ select node_id from public.sam_token('node') $$;
create or replace function public.current_workspace_id() returns uuid
language sql stable security definer set search_path = '' as $$ select workspace_id from public.sam_token('workspace') $$;
create or replace function public.current_agent_session_id() returns uuid
language sql stable security definer set search_path = '' as $$ select agent_session_id from public.sam_token('agent') $$;
create or replace function public.current_agent_project_id() returns uuid
language sql stable security definer set search_path = '' as $$ select project_id from public.sam_token('agent') $$;
create or replace function public.current_agent_task_id() returns uuid
language sql stable security definer set search_path = '' as $$ select task_id from public.sam_token('agent') $$;

-- The id recorded as actor on events.
create or replace function public.sam_actor_id() returns text
language sql stable security definer set search_path = '' as $$
  select case public.sam_caller()
    when 'user' then auth.uid()::text
    when 'node' then public.current_node_id()::text
    when 'workspace' then public.current_workspace_id()::text
    when 'agent' then public.current_agent_session_id()::text
    else coalesce(nullif(current_setting('sam.actor', true), ''), public.sam_role())
  end
$$;

-- Refuses unless the caller may act on a task. `allow` lists what suffices: 'owner' (the project's
-- user), 'self' (the agent working on it, or its workspace), 'parent' (the agent of its direct parent).
create or replace function public.sam_authorize_task(p_task public.tasks, p_allow text[]) returns void
language plpgsql stable security definer set search_path = '' as $$
declare ok boolean := false; k public.actor_type := public.sam_caller();
begin
  if p_task.id is null then
    raise exception 'task not found' using errcode = 'P0002';
  end if;
  ok := case k
    when 'system' then true
    when 'user' then 'owner' = any(p_allow) and p_task.owner_id = auth.uid()
    when 'agent' then exists (select 1 from public.sam_token('agent') a where a.project_id = p_task.project_id
                                and (('self' = any(p_allow) and a.task_id = p_task.id)
                                  or ('parent' = any(p_allow) and a.task_id = p_task.parent_task_id)))
    when 'workspace' then 'self' = any(p_allow) and p_task.workspace_id = public.current_workspace_id()
    else false
  end;
  if not coalesce(ok, false) then
    raise exception 'not allowed to act on task %', p_task.id using errcode = '42501';
  end if;
end $$;
