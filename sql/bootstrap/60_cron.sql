-- Only in the database pg_cron serves (cron.database_name) and in the seed the test template is
-- cloned from; `supabase/local/postgres/platform.ts` decides. Hosted lets `postgres` schedule jobs and read
-- `cron.job`, but not write the job table directly.
create extension if not exists pg_cron;
grant usage on schema cron to postgres;
grant select on all tables in schema cron to postgres;
grant delete on cron.job_run_details to postgres;
grant execute on all functions in schema cron to postgres;
