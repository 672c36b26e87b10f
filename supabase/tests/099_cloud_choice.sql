-- A task's machine choice (provider, size, location) comes from one place and is checked: the
-- composer's options, else the source task's, the profile's or the project's; an unknown provider or
-- a location the provider lacks is refused in words; the node and its provision job carry it; a warm
-- node of another provider never serves it.
begin;
\ir _fixtures.psql
select plan(10);

select is(pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001',
    'On Hetzner', '{"provider": "hetzner", "vmSize": "large", "location": "hel1"}') ->> 'status'$$), 'queued',
  'a task that picks Hetzner, large, hel1');
select results_eq($$select t.provider, t.vm_size::text, t.location, n.provider, n.vm_size::text, n.location
                     from public.tasks t join public.nodes n on n.id = t.auto_provisioned_node_id
                    where t.description = 'On Hetzner'$$,
  $$values ('hetzner', 'large', 'hel1', 'hetzner', 'large', 'hel1')$$,
  'the task and its new node record exactly that choice');
select is((select j.payload from public.orchestrator_jobs j join public.tasks t on t.auto_provisioned_node_id = j.node_id
            where t.description = 'On Hetzner' and j.kind = 'provision_node'),
  '{"provider": "hetzner", "vmSize": "large", "location": "hel1"}'::jsonb, 'so does its provision job');

select is(pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001',
    'Nowhere', '{"provider": "digitalocean"}') ->> 'status'$$),
  'ERROR 22023: unknown machine provider "digitalocean" (one of local, hetzner, scaleway)', 'an unknown provider is refused');
select is(pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001',
    'Mixed', '{"provider": "hetzner", "location": "fr-par-1"}') ->> 'status'$$),
  'ERROR 22023: hetzner has no location "fr-par-1" (one of fsn1, nbg1, hel1, ash, hil, sin)',
  'a Scaleway zone is never sent to Hetzner');
select is(pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001',
    'Huge', '{"vmSize": "huge"}') ->> 'status'$$),
  'ERROR 22023: vmSize is one of small, medium, large', 'an unknown size is refused in words');

-- The project's default location belongs to its default provider; the composer's provider comes
-- with its own location (none: the provider's default), never the project's.
update public.projects set default_provider = 'scaleway', default_location = 'nl-ams-1'
 where id = '22222222-0000-0000-0000-000000000001';
select is(pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001',
    'Hetzner default place', '{"provider": "hetzner"}') ->> 'status'$$), 'queued', 'Hetzner with no location');
select results_eq($$select provider, location from public.tasks where description = 'Hetzner default place'$$,
  $$values ('hetzner', null::text)$$, 'takes no location from the Scaleway default');
select is(pg_temp.run_as('owner', $$update public.projects set default_location = 'fsn1'
    where id = '22222222-0000-0000-0000-000000000001' returning 'updated'$$),
  'ERROR 23514: new row for relation "projects" violates check constraint "projects_machine_choice_ok"',
  'a project cannot default to a location its provider lacks');

-- A warm Scaleway node does not serve a Hetzner task.
insert into public.nodes (id, owner_id, provider, vm_size, status, warm_since, warm_until, last_heartbeat_at)
values ('33333333-0000-0000-0000-0000000000c1', '11111111-0000-0000-0000-000000000001', 'scaleway', 'large', 'warm',
        now(), now() + interval '30 minutes', now());
select is(pg_temp.run_as('owner', $$select (public.submit_task('22222222-0000-0000-0000-000000000001',
    'Needs Hetzner', '{"provider": "hetzner", "vmSize": "small"}') ->> 'executionStep')$$), 'node_provisioning',
  'a warm node of another provider is left alone: a new Hetzner node is provisioned');

select * from finish();
rollback;
