-- The RLS matrix: every table × every identity that must not touch the row × select, insert,
-- update, delete — all refused. The target rows belong to project P1 / workspace W1 / node N1.
-- "Refused" means an error of class 42 (privilege or policy) or zero rows affected or visible.
begin;
\ir _fixtures.psql

create temp table targets (tbl text primary key, pred text not null, node_owned boolean not null default false);
insert into targets values
  ('settings', $$key = 'warm_timeout'$$, false),
  ('projects', $$id = '22222222-0000-0000-0000-000000000001'$$, false),
  ('project_settings', $$project_id = '22222222-0000-0000-0000-000000000001'$$, false),
  ('tasks', $$id = '44444444-0000-0000-0000-000000000001'$$, false),
  ('task_events', $$task_id = '44444444-0000-0000-0000-000000000001'$$, false),
  ('nodes', $$id = '33333333-0000-0000-0000-000000000001'$$, true),
  ('workspaces', $$id = '55555555-0000-0000-0000-000000000001'$$, false),
  ('lifecycle_events', $$entity_id = '55555555-0000-0000-0000-000000000001'$$, false),
  ('chat_sessions', $$id = '66666666-0000-0000-0000-000000000001'$$, false),
  ('agent_sessions', $$id = '77777777-0000-0000-0000-000000000001'$$, false),
  ('messages', $$session_id = '66666666-0000-0000-0000-000000000001'$$, false),
  ('node_commands', $$node_id = '33333333-0000-0000-0000-000000000001'$$, true),
  ('orchestrator_jobs', $$task_id = '44444444-0000-0000-0000-000000000001'$$, false),
  ('notifications', $$task_id = '44444444-0000-0000-0000-000000000001'$$, false),
  ('credentials', $$project_id = '22222222-0000-0000-0000-000000000001'$$, false),
  ('tokens', $$jti = '88888888-0000-0000-0000-000000000011'$$, false),
  ('human_input_requests', $$agent_session_id = '77777777-0000-0000-0000-000000000001'$$, false),
  ('directives', $$task_id = '44444444-0000-0000-0000-000000000001'$$, false),
  ('mcp_request_windows', $$jti = '88888888-0000-0000-0000-000000000021'$$, false),
  ('installation', $$singleton$$, false),
  ('agent_profiles', $$project_id = '22222222-0000-0000-0000-000000000001'$$, false),
  ('github_installations', $$owner_id = '11111111-0000-0000-0000-000000000001'$$, false),
  ('permission_requests', $$agent_session_id = '77777777-0000-0000-0000-000000000001'$$, false),
  ('task_budgets', $$task_id = '44444444-0000-0000-0000-000000000001'$$, false),
  ('github_installation_states', $$installation_id = 4201$$, false),
  ('agent_session_usage', $$agent_session_id = '77777777-0000-0000-0000-000000000001'$$, false),
  ('vm_agent_bundles', $$version = '0.0.1'$$, false);

-- Insert candidates: the target row with fresh keys, so only privileges and policies can refuse it.
create temp table candidate_rows (tbl text primary key, row jsonb);
do $$
declare t record; r jsonb;
begin
  for t in select * from targets loop
    execute format('select to_jsonb(x) from public.%I x where %s limit 1', t.tbl, t.pred) into r;
    if r is null then raise exception 'fixture has no target row for %', t.tbl; end if;
    r := r || jsonb_strip_nulls(jsonb_build_object(
      'id', case when r ? 'id' then case jsonb_typeof(r -> 'id') when 'number' then to_jsonb(987654321)
                                     else to_jsonb(extensions.gen_random_uuid()) end end,
      'jti', case when r ? 'jti' then to_jsonb(extensions.gen_random_uuid()) end,
      'sha256', case when t.tbl = 'vm_agent_bundles' then to_jsonb(repeat('ab', 32)) end,
      'key', case when t.tbl = 'settings' then to_jsonb('brand_new_key'::text)
                  when t.tbl = 'project_settings' then to_jsonb('sweep_batch'::text) end,
      'name', case when t.tbl = 'projects' then to_jsonb('another name'::text)
                   when t.tbl = 'agent_profiles' then to_jsonb('another profile'::text) end,
      'message_id', case when t.tbl = 'messages' then to_jsonb('brand-new'::text) end,
      'dedupe_key', case when r ? 'dedupe_key' then to_jsonb('brand-new'::text) end,
      'installation_id', case when t.tbl = 'github_installation_states' then to_jsonb(987654321) end,
      'task_id', case when t.tbl = 'chat_sessions' then to_jsonb('44444444-0000-0000-0000-000000000002'::text) end));
    insert into candidate_rows values (t.tbl, r);
  end loop;
end $$;

-- Tries one operation as one identity; reports 'refused …' or what happened. Everything it did is
-- rolled back (the block always ends in an exception), and so is the role switch.
create function pg_temp.attempt(p_identity text, p_tbl text, p_op text) returns text language plpgsql as $$
declare i record; t record; n bigint; cols text; col text; r jsonb;
begin
  select * into i from identities where name = p_identity;
  select * into t from targets where tbl = p_tbl;
  select row into r from candidate_rows where tbl = p_tbl;
  begin
    perform set_config('request.jwt.claims', i.claims::text, true);
    perform set_config('role', i.role, true);
    if p_op = 'select' then
      execute format('select count(*) from public.%I where %s', p_tbl, t.pred) into n;
    elsif p_op = 'insert' then
      select string_agg(quote_ident(a.attname), ', ') into cols from pg_attribute a
       where a.attrelid = ('public.' || p_tbl)::regclass and a.attnum > 0 and not a.attisdropped
         and a.attgenerated = '' and has_column_privilege(('public.' || p_tbl)::regclass, a.attnum, 'INSERT');
      if cols is null then
        execute format('insert into public.%I default values', p_tbl);
      end if;
      execute format('with x as (insert into public.%I (%s) select %s from jsonb_populate_record(null::public.%I, $1) returning 1) select count(*) from x',
                     p_tbl, cols, cols, p_tbl) using r into n;
    else
      select a.attname into col from pg_attribute a
       where a.attrelid = ('public.' || p_tbl)::regclass and a.attnum > 0 and not a.attisdropped
       order by has_column_privilege(('public.' || p_tbl)::regclass, a.attnum, 'UPDATE') desc, a.attnum limit 1;
      if p_op = 'update' then
        execute format('with x as (update public.%I set %I = %I where %s returning 1) select count(*) from x', p_tbl, col, col, t.pred) into n;
      else
        execute format('with x as (delete from public.%I where %s returning 1) select count(*) from x', p_tbl, t.pred) into n;
      end if;
    end if;
    raise exception using errcode = 'SAMOK', message = n::text;
  exception
    when sqlstate 'SAMOK' then
      return case when sqlerrm = '0' then 'refused (0 rows)' else 'ALLOWED (' || sqlerrm || ' rows)' end;
    when sqlstate '42501' then
      return 'refused (' || sqlerrm || ')';
    when others then
      return 'UNEXPECTED ' || sqlstate || ': ' || sqlerrm;
  end;
end $$;

create temp table matrix as
select t.tbl, i.ident, o.op,
       pg_temp.attempt(case when i.ident = 'node identity' then case when t.node_owned then 'node N2' else 'node N1' end
                            else i.ident end, t.tbl, o.op) as outcome
  from targets t
  cross join unnest(array['anon', 'other user', 'other-project workspace W3', 'same-node workspace W2',
                          'node identity', 'revoked agent token']) with ordinality as i(ident, io)
  cross join unnest(array['select', 'insert', 'update', 'delete']) with ordinality as o(op, oo)
 order by t.tbl, i.io, o.oo;
-- 'node identity' is N1 on every workspace/project row, and N2 on N1's own rows (nodes, node_commands).

-- Functions: anon executes nothing in public; authenticated executes exactly the RPCs users call
-- (plus pure predicates), so no internal SECURITY DEFINER function is reachable through the Data API.
create temp table user_rpcs (fn text primary key);
insert into user_rpcs values
  ('submit_task(uuid,text,jsonb)'), ('ready_task(uuid)'), ('rerun_task(uuid)'), ('run_task(uuid)'),
  ('complete_task(uuid,text,text,jsonb)'), ('fail_task(uuid,text)'), ('cancel_task(uuid,text)'), ('retry_task(uuid,text)'),
  ('fork_task(uuid,text,jsonb)'), ('destroy_node(uuid,text)'), ('stop_workspace(uuid,text)'), ('stop_agent_session(uuid,text)'),
  ('revoke_token(uuid,text)'), ('post_message(uuid,text,text)'), ('answer_human_input(uuid,text)'),
  ('send_directive(uuid,text,text,jsonb)'), ('create_idea(text,text,integer,uuid)'), ('update_idea(uuid,jsonb)'),
  ('get_session_messages(uuid,integer,bigint,bigint)'), ('sam_can_use_topic(text)'),
  ('answer_permission_request(uuid,text)'), ('set_task_budget(uuid,jsonb)'), ('continue_task_budget(uuid,jsonb)'),
  ('stop_task_budget(uuid)'), ('add_byo_node(text,vm_size)'), ('move_idea(uuid,text)'),
  ('stop_task(uuid,integer,text)'), ('revoke_permission_always(uuid)');
create function pg_temp.executable_by(p_role text) returns table (fn text, definer boolean) language sql as $$
  select replace(replace(p.oid::regprocedure::text, 'public.', ''), ' ', ''), p.prosecdef from pg_proc p
   where p.pronamespace = 'public'::regnamespace and has_function_privilege(p_role, p.oid, 'execute')
$$;
create function pg_temp.function_privilege_checks(p_when text) returns setof text language plpgsql as $$
begin
  return next is_empty($q$ select fn from pg_temp.executable_by('anon') $q$, p_when || ': anon executes no function in public');
  return next is_empty($q$ select fn from pg_temp.executable_by('authenticated') where definer except select fn from user_rpcs $q$,
    p_when || ': authenticated executes no internal SECURITY DEFINER function');
  return next is_empty($q$ select fn from user_rpcs except select fn from pg_temp.executable_by('authenticated') $q$,
    p_when || ': authenticated still executes every user-facing RPC');
  return next ok(not has_function_privilege('authenticated', 'public.issue_bootstrap_token(uuid)', 'execute')
             and not has_function_privilege('authenticated', 'public.sam_enqueue_job(text,uuid,uuid,uuid,uuid,jsonb,text)', 'execute'),
    p_when || ': e.g. issue_bootstrap_token and sam_enqueue_job are not callable by users');
end $$;

select plan((select count(*)::int from matrix) + 3 + 4 + 4 + 2);
select * from pg_temp.function_privilege_checks('as migrated');

-- As on a platform image whose default privileges grant every new function to anon and
-- authenticated: the revoke-by-default migration takes them back, and functions made after it
-- are not granted either (tests/db/function-privileges.test.ts runs the migrations on such a database).
grant execute on all functions in schema public to anon, authenticated;
alter default privileges for role postgres in schema public grant execute on functions to anon, authenticated;
set local role postgres;
\ir ../migrations/20261202000900_revoke_function_defaults.sql
-- What later migrations grant to users themselves (they run after the revoke migration, in order).
grant execute on function public.answer_permission_request(uuid, text), public.set_task_budget(uuid, jsonb),
  public.continue_task_budget(uuid, jsonb), public.stop_task_budget(uuid) to authenticated;
grant execute on function public.add_byo_node(text, public.vm_size) to authenticated;
grant execute on function public.move_idea(uuid, text) to authenticated;
grant execute on function public.stop_task(uuid, integer, text) to authenticated;
grant execute on function public.revoke_permission_always(uuid) to authenticated;
reset role;
select * from pg_temp.function_privilege_checks('after permissive grants and the revoke migration');
set local role postgres;
create function public.made_later() returns int language sql security definer as 'select 1';
reset role;
select ok(not has_function_privilege('anon', 'public.made_later()', 'execute')
      and not has_function_privilege('authenticated', 'public.made_later()', 'execute'),
  'a function the migration role creates later is executable by neither anon nor authenticated');
select ok(has_function_privilege('service_role', 'public.submit_task(uuid,text,jsonb)', 'execute')
      and has_function_privilege('sam_agent', 'public.dispatch_task(text,jsonb)', 'execute')
      and has_function_privilege('sam_node', 'public.node_heartbeat(jsonb)', 'execute')
      and has_function_privilege('sam_workspace', 'public.record_messages(uuid,jsonb)', 'execute'),
  'service_role and the machine identities keep what they call');
select diag(format('RLS matrix: %s cases = %s tables × %s identities × 4 operations',
  (select count(*) from matrix), (select count(distinct tbl) from matrix), (select count(distinct ident) from matrix)));

select is_empty($$
  select c.relname from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')
  except select tbl from targets
$$, 'the matrix covers every table in public');
select ok(pg_temp.attempt('owner', 'tasks', 'select') = 'ALLOWED (1 rows)', 'control: the owner does see the target task');
select ok(pg_temp.attempt('workspace W1', 'messages', 'select') = 'ALLOWED (1 rows)', 'control: workspace W1 does see its own messages');

select ok(outcome like 'refused%', format('%s × %s × %s: %s', tbl, ident, op, outcome)) from matrix;

select * from finish();
rollback;
