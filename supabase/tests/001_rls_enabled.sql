-- Every table in every schema the Data API or Realtime exposes has row-level security enabled.
begin;
select plan(1);

select is_empty($$
  select format('%I.%I', n.nspname, c.relname)
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'p')
    and n.nspname in ('public', 'realtime', 'graphql_public')
    and not c.relrowsecurity
$$, 'RLS is enabled on every table in every exposed schema');

select * from finish();
rollback;
