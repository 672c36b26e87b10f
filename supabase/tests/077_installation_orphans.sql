-- This installation's id (one stable row, labels every machine the orchestrator creates) and the
-- orphan sweep's policy: our machines only, and none younger than orphan_min_age.
begin;
\ir _fixtures.psql
select plan(13);

select is((select count(*)::int from public.installation), 1, 'an installation has one id');
select is(public.sam_installation_id(), (select id from public.installation), 'sam_installation_id() reads it');
select is(public.sam_installation_id(), public.sam_installation_id(), 'and it is stable');
select throws_ok($$insert into public.installation (id) values (extensions.gen_random_uuid())$$, '23505', null,
  'a second installation id is refused');
select throws_ok($$insert into public.installation (singleton, id) values (false, extensions.gen_random_uuid())$$, '23514', null,
  'even under another key');

-- A database loaded from the schema without its data makes its id on first use.
select id as before from public.installation \gset
delete from public.installation;
select isnt(public.sam_installation_id(), :'before'::uuid, 'a missing id is made on first use');
select is(public.sam_installation_id(), (select id from public.installation), 'and kept');

select is(has_table_privilege('authenticated', 'public.installation', 'select'), false, 'users cannot read it');
select is(has_table_privilege('anon', 'public.installation', 'select'), false, 'nor can anon');
select is(has_function_privilege('authenticated', 'public.orphan_sweep_policy()', 'execute'), false,
  'users cannot call the orphan policy');
select is(has_function_privilege('authenticated', 'public.sam_installation_id()', 'execute'), false,
  'nor read the id through a function');

set local sam.now = '2999-01-01T00:00:00Z';
select is((select created_before from public.orphan_sweep_policy()), '2998-12-31T23:30:00Z'::timestamptz,
  'a machine must be older than orphan_min_age (30 minutes by default) to be an orphan');
update public.settings set value = '"2 hours"' where key = 'orphan_min_age';
select is((select created_before from public.orphan_sweep_policy()), '2998-12-31T22:00:00Z'::timestamptz,
  'the age is a setting');

select * from finish();
rollback;
