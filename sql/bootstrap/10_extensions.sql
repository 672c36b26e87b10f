-- Per database: the extensions schema and the grants hosted projects start with.
create schema if not exists extensions;
create extension if not exists pgcrypto with schema extensions;
create extension if not exists "uuid-ossp" with schema extensions;
grant usage on schema extensions to postgres, anon, authenticated, service_role;
grant all on schema extensions to postgres with grant option;

-- The database and its public schema belong to the migration role, as on hosted.
do $$ begin
  execute format('alter database %I owner to postgres', current_database());
end $$;
grant usage on schema public to anon, authenticated, service_role;
-- "Secure by default" (2026): no default privileges in public; migrations grant explicitly.
