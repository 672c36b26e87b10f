-- The owner takes an "always allow" back: `revoke_permission_always(request)` on a request they
-- answered "always" ends the standing permission of that kind for the task (every standing
-- "always" of the kind in that task, should the owner have said it on two cards), so the agent's
-- next request of that kind is put to them as a card again. The request keeps its status (what the
-- owner answered); `revoked_at` / `revoked_by` say it no longer stands, with a lifecycle event
-- (allowed_always → revoked) and a chat line under its card ('permission:<id>:revoked'). Requests
-- allowed at once on its word stay as they were: what was allowed then was allowed. The owner
-- reads the new columns through the table's select grant and its RLS policy, as the others.
-- Safe to run twice.

alter table public.permission_requests add column if not exists revoked_at timestamptz;
alter table public.permission_requests add column if not exists revoked_by uuid;
comment on column public.permission_requests.revoked_at is
  'when the owner revoked this "always" answer: it no longer allows requests of its kind at once';
comment on column public.permission_requests.revoked_by is 'the user who revoked this "always" answer';

do $$
begin
  if not exists (select 1 from pg_constraint where conrelid = 'public.permission_requests'::regclass
                   and conname = 'permission_requests_revoked_check') then
    alter table public.permission_requests add constraint permission_requests_revoked_check
      check (revoked_at is null or (status = 'allowed_always' and allowed_by is null));
  end if;
end $$;

-- The owner's standing "always" for a request of this kind by agent session `a` (as in
-- 20261202097000_always_allow_persists.sql), now without the revoked ones.
create or replace function public.sam_standing_permission(a public.agent_sessions, p_key text) returns uuid
language sql stable security definer set search_path = '' as $$
  with recursive lineage (id, depth) as (
    select a.task_id, 0 where a.task_id is not null
    union all
    select t.source_task_id, l.depth + 1
      from lineage l join public.tasks t on t.id = l.id
     where t.triggered_by = 'retry' and t.source_task_id is not null and l.depth < 20
  )
  select p.id from public.permission_requests p
   where p.status = 'allowed_always' and p.allowed_by is null and p.revoked_at is null and p.owner_id = a.owner_id
     and coalesce(p.tool_kind, p.title) = p_key
     and (p.agent_session_id = a.id or p.task_id in (select l.id from lineage l))
   order by p.answered_at, p.id
   limit 1
$$;

-- The owner revokes the "always" they gave on request `p_request`: it, and any other standing
-- "always" of the same kind in the same task (or agent session, without a task), stop allowing at
-- once. Answers when it was revoked; again, the same time and nothing changes. A request that is
-- not the owner's own "always" answer (another answer, still pending, or allowed at once on an
-- earlier answer's word) is 55000; another user's, 42501.
create or replace function public.revoke_permission_always(p_request uuid) returns timestamptz
language plpgsql security definer set search_path = '' as $$
declare r public.permission_requests; s public.permission_requests; stamp timestamptz := public.sam_now();
begin
  select * into r from public.permission_requests where id = p_request for update;
  if r.id is null or not coalesce(public.sam_caller() = 'system'
                                   or (public.sam_caller() = 'user' and r.owner_id = auth.uid()), false) then
    raise exception 'not allowed to revoke permission request %', p_request using errcode = '42501';
  end if;
  if r.status <> 'allowed_always' then
    raise exception 'permission request % is % and was not answered "always": there is nothing to revoke',
      r.id, replace(r.status, '_', ' ') using errcode = '55000';
  end if;
  if r.allowed_by is not null then
    raise exception 'permission request % was allowed at once on the word of request %: revoke that one',
      r.id, r.allowed_by using errcode = '55000';
  end if;
  if r.revoked_at is not null then return r.revoked_at; end if;
  for s in select p.* from public.permission_requests p
            where p.owner_id = r.owner_id and p.status = 'allowed_always' and p.allowed_by is null
              and p.revoked_at is null and coalesce(p.tool_kind, p.title) = coalesce(r.tool_kind, r.title)
              and (p.task_id = r.task_id or p.agent_session_id = r.agent_session_id)
            order by p.id for update of p loop
    update public.permission_requests set revoked_at = stamp, revoked_by = auth.uid()
     where id = s.id and revoked_at is null;
    insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, from_state, to_state, actor_type,
                                         actor_id, reason)
    values ('permission_request', s.id, s.owner_id, s.project_id, 'allowed_always', 'revoked',
            coalesce(public.sam_caller(), 'system'), public.sam_actor_id(),
            left(case when s.id = r.id then 'no longer always allowed: '
                      else 'no longer always allowed (with request ' || r.id || '): ' end || s.title, 200));
    if s.chat_session_id is not null then
      insert into public.messages (session_id, project_id, owner_id, message_id, role, content, tool_metadata, origin)
      values (s.chat_session_id, s.project_id, s.owner_id, 'permission:' || s.id || ':revoked', 'system',
              'No longer always allowed: ' || s.title || ' (the agent will ask again)',
              jsonb_build_object('kind', 'permission_revoked', 'permissionRequestId', s.id, 'outcome', 'revoked'),
              'sam')
      on conflict (session_id, message_id) do nothing;
    end if;
  end loop;
  return stamp;
end $$;

revoke execute on all functions in schema public from public, anon;
grant execute on all functions in schema public to service_role;
grant execute on function public.revoke_permission_always(uuid) to authenticated;
