-- A workspace stopped before its machine heard of it ends `stopped` and its node goes warm
-- (20261203040000_stop_before_delivery.sql): a create still pending is withdrawn; a stop the machine
-- acknowledges as done (it does not run the workspace) stops one still `stopping`.
begin;
\ir _fixtures.psql
select plan(16);

insert into public.nodes (id, owner_id, status, warm_since, warm_until, last_heartbeat_at, agent_ready_at) values
  ('33333333-0000-0000-0000-0000000000b1', '11111111-0000-0000-0000-000000000001', 'warm', now(), now() + interval '30 minutes', now(), now()),
  ('33333333-0000-0000-0000-0000000000b2', '11111111-0000-0000-0000-000000000001', 'warm', now(), now() + interval '30 minutes', now(), now());
insert into public.tokens (jti, kind, owner_id, node_id, expires_at) values
  ('88888888-0000-0000-0000-0000000000b2', 'node', '11111111-0000-0000-0000-000000000001', '33333333-0000-0000-0000-0000000000b2', now() + interval '1 day');
insert into identities values ('node B2', 'sam_node',
  '{"role":"sam_node","jti":"88888888-0000-0000-0000-0000000000b2","node_id":"33333333-0000-0000-0000-0000000000b2"}');

-- 1. Stopped before the machine took its create.
update public.nodes set status = 'destroyed' where id = '33333333-0000-0000-0000-0000000000b2';
select pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001', 'Stopped at once')::text$$) as a \gset
select (select workspace_id from public.tasks where id = ((:'a'::jsonb) ->> 'taskId')::uuid) as wa \gset
select is((select node_id from public.workspaces where id = :'wa'), '33333333-0000-0000-0000-0000000000b1'::uuid,
  'the task''s workspace is on the warm node it claimed');
select is((select status::text from public.node_commands where workspace_id = :'wa' and kind = 'create_workspace'), 'pending',
  'its create waits for the machine');
select is(pg_temp.run_as('owner', format($$select public.stop_workspace(%L, 'changed my mind')::text$$, :'wa')), 'true',
  'the owner stops the workspace');
select is((select status::text from public.workspaces where id = :'wa'), 'stopped',
  'a workspace its machine never heard of is stopped at once');
select is((select status::text || ': ' || (result ->> 'error') from public.node_commands where workspace_id = :'wa' and kind = 'create_workspace'),
  'failed: stopped before its machine received it', 'its create is withdrawn, saying why');
select is((select count(*)::int from public.node_commands where workspace_id = :'wa' and kind = 'stop_workspace'), 0,
  'and the machine is not asked to stop what it does not run');
select is((select string_agg(from_state || '→' || to_state || ' (' || reason || ')', ', ' order by id)
             from public.lifecycle_events where entity = 'workspace' and entity_id = :'wa' and from_state is not null),
  'creating→stopping (changed my mind), stopping→stopped (stopped before its machine received it)', 'both moves are on record');
select is((select status::text from public.nodes where id = '33333333-0000-0000-0000-0000000000b1'), 'warm',
  'its node goes warm for the next task');

-- 2. The machine took the create but its answer was lost; the stop comes before the redelivery.
update public.nodes set status = 'warm', warm_since = now(), warm_until = now() + interval '30 minutes'
 where id = '33333333-0000-0000-0000-0000000000b2';
update public.nodes set status = 'destroyed' where id = '33333333-0000-0000-0000-0000000000b1';
select pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001', 'Lost on the way')::text$$) as b \gset
select (select workspace_id from public.tasks where id = ((:'b'::jsonb) ->> 'taskId')::uuid) as wb \gset
select is(pg_temp.run_as('node B2', $$select string_agg(kind, ',') from public.poll_node_commands()$$), 'create_workspace',
  'the machine takes the create (its answer is lost on the way)');
select pg_temp.run_as('owner', format($$select public.stop_workspace(%L)::text$$, :'wb')) as ignored \gset
select is((select status::text from public.workspaces where id = :'wb'), 'stopping',
  'a delivered create is not withdrawn: the workspace waits for its machine');
select pg_temp.run_as('node B2', $$select string_agg(id::text, ',') from public.poll_node_commands() where kind = 'stop_workspace'$$) as stop \gset
select is(pg_temp.run_as('node B2', format($$select public.ack_node_command(%L, false, '{"error":"busy"}')::text$$, :'stop')), 'true',
  'a refused stop is recorded');
update public.node_commands set status = 'delivered' where id = :'stop';
select is(pg_temp.run_as('node B2', format($$select public.ack_node_command(%L, true, '{"running":false}')::text$$, :'stop')), 'true',
  'the machine acknowledges the stop of a workspace it does not run');
select is((select status::text from public.workspaces where id = :'wb'), 'stopped', 'the workspace is stopped');
select is((select status::text from public.nodes where id = '33333333-0000-0000-0000-0000000000b2'), 'warm', 'and its node goes warm');

-- 3. A workspace that said it is ready runs on its machine: its stop goes there.
select is(pg_temp.run_as('owner', $$select public.stop_workspace('55555555-0000-0000-0000-000000000001')::text$$), 'true',
  'the owner stops a workspace that said it is ready');
select is((select status::text || '/' || (select count(*) from public.node_commands c
                                           where c.workspace_id = w.id and c.kind = 'stop_workspace')
             from public.workspaces w where w.id = '55555555-0000-0000-0000-000000000001'),
  'stopping/1', 'it is stopping until its machine says it stopped (whatever its create''s row says)');

select * from finish();
rollback;
