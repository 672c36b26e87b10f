-- A task can say it runs with no profile (`"profile": null`): the project's default profile and
-- its source task's profile are then not applied, and nothing is recorded.
begin;
\ir _fixtures.psql
select plan(6);

-- P1's fixture profile "reviewer" (claude-code) becomes the project's default.
update public.projects set default_agent_profile_id = '99999999-0000-0000-0000-000000000601'
 where id = '22222222-0000-0000-0000-000000000001';

select is(pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001',
    'Defaulted', '{}') ->> 'status'$$), 'queued', 'a task that names no profile');
select is((select agent_profile ->> 'name' from public.tasks where description = 'Defaulted'), 'reviewer',
  'takes the project''s default profile');

select is(pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001',
    'Plain on purpose', '{"profile": null}') ->> 'status'$$), 'queued', 'a task that asks for no profile');
select results_eq($$select agent_type, agent_profile_id, agent_profile from public.tasks where description = 'Plain on purpose'$$,
  $$select p.default_agent_type, null::uuid, '{}'::jsonb from public.projects p where p.id = '22222222-0000-0000-0000-000000000001'$$,
  'runs with the project''s agent and records no profile, though the project has a default');

-- A retry of a task that had a profile keeps it, unless it asks for none.
select is((select agent_profile ->> 'name' from public.sam_create_task(
    (select p from public.projects p where id = '22222222-0000-0000-0000-000000000001'), 'Retry keeps', '{}', 'user',
    null, (select id from public.tasks where description = 'Defaulted'), 0, null)), 'reviewer',
  'a retry takes its source''s profile');
select is((select agent_profile from public.sam_create_task(
    (select p from public.projects p where id = '22222222-0000-0000-0000-000000000001'), 'Retry plain', '{"profile": null}',
    'user', null, (select id from public.tasks where description = 'Defaulted'), 0, null)), '{}'::jsonb,
  'a retry that asks for no profile records none');

select * from finish();
rollback;
