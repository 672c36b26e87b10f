-- Roles as on a hosted Supabase project (cluster-wide). Passwords are set by the local stack.
do $$
declare
  r record;
begin
  for r in
    select * from (values
      ('anon',                     'nologin noinherit'),
      ('authenticated',            'nologin noinherit'),
      ('service_role',             'nologin noinherit bypassrls'),
      ('authenticator',            'login noinherit'),
      ('supabase_auth_admin',      'login noinherit createrole'),
      ('supabase_realtime_admin',  'nologin noinherit'),
      ('supabase_functions_admin', 'nologin noinherit'),
      -- The role migrations run as: hosted `postgres` is demoted to exactly this.
      ('postgres',                 'login nosuperuser createdb createrole replication bypassrls inherit')
    ) as t(name, options)
  loop
    if not exists (select 1 from pg_roles where rolname = r.name) then
      execute format('create role %I %s', r.name, r.options);
    else
      execute format('alter role %I %s', r.name, r.options);
    end if;
  end loop;
end
$$;

-- Hosted makes the API roles inheriting (20230529180330_alter_api_roles_for_inherit).
alter role anon inherit;
alter role authenticated inherit;
alter role service_role inherit;

grant anon, authenticated, service_role to authenticator;
grant anon, authenticated, service_role to postgres with admin option;
grant supabase_realtime_admin to postgres;

alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';
alter role authenticator set statement_timeout = '8s';

-- Extensions live in `extensions`; every role finds them without qualifying (a role setting, so it
-- holds in every database, clones included).
do $$
declare
  r text;
begin
  foreach r in array array['postgres', 'anon', 'authenticated', 'service_role', 'authenticator',
                           'supabase_admin', 'supabase_auth_admin', 'supabase_realtime_admin']
  loop
    execute format('alter role %I set search_path = "$user", public, extensions', r);
  end loop;
end
$$;
