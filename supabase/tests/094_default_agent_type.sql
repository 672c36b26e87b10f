-- A project's default agent comes from the `default_agent_type` setting (locally the demo agent),
-- not from a literal in the schema.
begin;
\ir _fixtures.psql
select plan(7);

select is((select value #>> '{}' from public.settings where key = 'default_agent_type'), 'demo', 'the setting holds the demo agent');
select is((select column_default from information_schema.columns where table_schema = 'public' and table_name = 'projects'
            and column_name = 'default_agent_type'), null, 'the column has no literal default');
select is(pg_temp.run_as('owner', $$insert into public.projects (owner_id, name, repository)
  values ('11111111-0000-0000-0000-000000000001', 'from rest', 'owner/rest') returning default_agent_type$$), 'demo',
  'a project made through REST without an agent gets the setting''s');
update public.settings set value = '"claude-code"' where key = 'default_agent_type';
select is(pg_temp.run_as('owner', $$insert into public.projects (owner_id, name, repository)
  values ('11111111-0000-0000-0000-000000000001', 'later', 'owner/later') returning default_agent_type$$), 'claude-code',
  'the setting decides');
select is(pg_temp.run_as('owner', $$insert into public.projects (owner_id, name, repository, default_agent_type)
  values ('11111111-0000-0000-0000-000000000001', 'chosen', 'owner/chosen', 'opencode') returning default_agent_type$$), 'opencode',
  'an agent given is kept');
select throws_ok($$update public.settings set value = '"no spaces allowed"' where key = 'default_agent_type'$$, '22023',
  'setting default_agent_type must match ^[a-z0-9][a-z0-9._-]{0,63}$, not "no spaces allowed"', 'the setting is checked');
select throws_ok($$update public.settings set value = '7' where key = 'default_agent_type'$$, '22023',
  'setting default_agent_type takes a string, not 7', 'and typed');

select * from finish();
rollback;
