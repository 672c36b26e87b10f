-- Agent profiles: a task takes the profile it names, else its source's, else the project default;
-- explicit options still win, the task records the profile as resolved, and profiles are the
-- owner's alone.
begin;
\ir _fixtures.psql
select plan(17);

-- P1 has the fixture profile "reviewer" (claude-code); add a fuller one as the owner.
select is(pg_temp.run_as('owner', $$insert into public.agent_profiles (project_id, owner_id, name, agent_type, model,
    permission_mode, workspace_profile, task_mode, instructions, max_turns, vm_size, provider)
  values ('22222222-0000-0000-0000-000000000001', '11111111-0000-0000-0000-000000000001', 'fast docs', 'codex',
          'gpt-5.3-codex', 'ask', 'lightweight', 'task', 'Write docs only.', 20, 'small', 'hetzner')
  returning name$$), 'fast docs', 'an owner adds a profile to their project');

select is(pg_temp.run_as('owner', $$select (public.submit_task('22222222-0000-0000-0000-000000000001',
    'Document the upload endpoint', '{"profile": "fast docs"}') ->> 'taskId')$$) is not null, true,
  'a task names a profile by name');
select results_eq($$select agent_type, vm_size::text, provider, task_mode::text, workspace_profile::text,
                          agent_profile ->> 'name', agent_profile ->> 'model', agent_profile ->> 'permissionMode',
                          agent_profile ->> 'instructions', (agent_profile ->> 'maxTurns')::int
                     from public.tasks where description = 'Document the upload endpoint'$$,
  $$values ('codex', 'small', 'hetzner', 'task', 'lightweight', 'fast docs', 'gpt-5.3-codex', 'ask', 'Write docs only.', 20)$$,
  'the task takes the profile''s agent, machine and modes, and records the profile as resolved');

select is(pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001',
    'Explicit wins', '{"profile": "fast docs", "agentType": "opencode", "vmSize": "large"}') ->> 'taskId'$$) is not null,
  true, 'explicit options are accepted with a profile');
select results_eq($$select agent_type, vm_size::text, agent_profile ->> 'name' from public.tasks where description = 'Explicit wins'$$,
  $$values ('opencode', 'large', 'fast docs')$$, 'an explicit option wins over the profile');

select is(pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001',
    'By id', jsonb_build_object('profile', '99999999-0000-0000-0000-000000000601')) ->> 'taskId'$$) is not null,
  true, 'a profile can be named by id');
select is((select agent_profile ->> 'name' from public.tasks where description = 'By id'), 'reviewer', 'by id resolves it');

select is(pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001', 'No such',
    '{"profile": "nope"}')::text$$), 'ERROR 22023: no agent profile "nope" in this project', 'an unknown profile is refused in words');
select is(pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001', 'Other project''s',
    jsonb_build_object('profile', '99999999-0000-0000-0000-000000000602'))::text$$),
  'ERROR 22023: no agent profile "99999999-0000-0000-0000-000000000602" in this project',
  'another project''s profile is not found');

-- The project default applies when a task names none; without one, nothing is recorded.
select is(pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001', 'Plain', '{}') ->> 'status'$$),
  'queued', 'a task without a profile');
select is((select agent_profile from public.tasks where description = 'Plain'), '{}'::jsonb, 'records no profile');
select is(pg_temp.run_as('owner', $$update public.projects set default_agent_profile_id =
    (select id from public.agent_profiles where name = 'fast docs') where id = '22222222-0000-0000-0000-000000000001' returning 'ok'$$),
  'ok', 'the owner sets a default profile');
select is(pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001', 'Defaulted', '{}') ->> 'status'$$),
  'queued', 'a task after the default is set');
select is((select agent_type || '/' || (agent_profile ->> 'name') from public.tasks where description = 'Defaulted'),
  'codex/fast docs', 'takes the project''s default profile');
select is(pg_temp.run_as('owner', $$update public.projects set default_agent_profile_id = '99999999-0000-0000-0000-000000000602'
    where id = '22222222-0000-0000-0000-000000000001' returning 'ok'$$),
  'ERROR 22023: the default profile must be one of the project''s own', 'a default from another project is refused');

-- Another user can neither see nor use nor plant a profile in P1.
select is(pg_temp.run_as('other user', $$select count(*)::text from public.agent_profiles
    where project_id = '22222222-0000-0000-0000-000000000001'$$), '0', 'another user sees none of P1''s profiles');
select matches(pg_temp.run_as('other user', $$insert into public.agent_profiles (project_id, owner_id, name, agent_type)
    values ('22222222-0000-0000-0000-000000000001', '11111111-0000-0000-0000-000000000002', 'planted', 'demo') returning 'ok'$$),
  '^ERROR 42501', 'another user cannot add a profile to P1');

select * from finish();
rollback;
