-- Machines their owners bring (provider `byo`): added with a one-time token, warm for good once
-- registered, released but never destroyed by the sweeps, removed (not destroyed) by their owner.
begin;
\ir _fixtures.psql
select plan(11);

select pg_temp.run_as('owner', $$select public.add_byo_node('Laptop', 'large')::text$$)::jsonb as added \gset
select ok((:'added'::jsonb ->> 'bootstrapToken') ~ '^[A-Za-z0-9_-]{40,}$'
      and (:'added'::jsonb #>> '{bundle,sha256}') ~ '^[0-9a-f]{64}$', 'add_byo_node answers a one-time token and the bundle sha256');
select (:'added'::jsonb ->> 'nodeId') as byo, (:'added'::jsonb ->> 'bootstrapToken') as tok \gset
select is((select provider || '/' || status || '/' || vm_size || '/' || auto_provisioned || '/' || owner_id from public.nodes where id = :'byo'),
  'byo/provisioning/large/false/11111111-0000-0000-0000-000000000001', 'a byo node of its owner waits to register');
select matches(pg_temp.run_as('anon', $$select public.add_byo_node('x', 'small')::text$$), '^ERROR 42501',
  'anon cannot add a machine');
update public.settings set value = '2' where key = 'byo_pending_limit';
select pg_temp.run_as('owner', $$select public.add_byo_node('Spare', 'small')::text$$) is not null;
select matches(pg_temp.run_as('owner', $$select public.add_byo_node('Third', 'small')::text$$), '^ERROR 53400: .*waiting to register',
  'at most byo_pending_limit machines wait to register');

select public.register_node(:'tok', '{"agentVersion": "sam-vm-agent/test"}') is not null;
select is((select status::text || '/' || (warm_until = 'infinity') from public.nodes where id = :'byo'), 'warm/true',
  'registered, it waits for its owner''s tasks, warm for good');

-- A task lands on it; the sweeps a year later release the workspace and keep the machine.
select pg_temp.run_as('owner', $$select (public.submit_task('22222222-0000-0000-0000-000000000001', 'Work here') ->> 'taskId')$$) as task \gset
select is((select node_id::text from public.tasks where id = :'task'), :'byo', 'the owner''s task claims the brought machine');
select set_config('sam.now', (now() + interval '1 year')::text, true);
select public.sweep_warm_nodes(), public.sweep_idle_nodes(), public.sweep_node_lifetime();
select ok((select status not in ('destroying', 'destroyed') from public.nodes where id = :'byo'), 'the sweeps never destroy it');
select is((select status::text || ': ' || error_message from public.workspaces where task_id = :'task'),
  'failed: released from your machine: no workspace activity within the absolute lifetime', 'they release its workspace, saying why');
select set_config('sam.now', '', true);

-- Its owner removes it: destroyed at once, tokens revoked, no provider job; another user cannot.
select matches(pg_temp.run_as('other user', format('select public.destroy_node(%L, %L)::text', :'byo', 'mine')), '^ERROR 42501',
  'another user cannot remove it');
select is(pg_temp.run_as('owner', format('select public.destroy_node(%L, %L)::text', :'byo', 'done')), 'true', 'its owner removes it');
select is((select n.status::text || '/' || (select count(*) from public.tokens where node_id = n.id and revoked_at is null)
                  || '/' || (select count(*) from public.orchestrator_jobs where node_id = n.id)
             from public.nodes n where n.id = :'byo'), 'destroyed/0/0', 'destroyed, its tokens revoked, no destroy job');

select * from finish();
rollback;
