-- The platform the migrations stand on: roles shaped as on hosted Supabase, and the auth helpers
-- reading the claims PostgREST, Realtime and our functions set.
begin;
select plan(12);

select is((select rolsuper from pg_roles where rolname = 'postgres'), false, 'the migration role is not a superuser');
select is((select rolbypassrls from pg_roles where rolname = 'postgres'), true, 'the migration role bypasses RLS, as hosted postgres does');
select is((select rolbypassrls from pg_roles where rolname = 'service_role'), true, 'service_role bypasses RLS');
select is((select rolbypassrls from pg_roles where rolname = 'authenticated'), false, 'authenticated is subject to RLS');
select is((select rolbypassrls from pg_roles where rolname = 'anon'), false, 'anon is subject to RLS');
select ok((select rolcanlogin and not rolinherit from pg_roles where rolname = 'authenticator'), 'authenticator logs in and does not inherit');
select ok(pg_has_role('authenticator', 'authenticated', 'member'), 'authenticator may become authenticated');

set local request.jwt.claims = '{"sub":"6c3b1f0e-9b1e-4c39-9f7a-2f1d7c0a4e11","role":"authenticated","email":"a@example.com"}';
select is(auth.uid(), '6c3b1f0e-9b1e-4c39-9f7a-2f1d7c0a4e11'::uuid, 'auth.uid() reads sub from request.jwt.claims');
select is(auth.role(), 'authenticated', 'auth.role() reads role');
select is(auth.jwt() ->> 'email', 'a@example.com', 'auth.jwt() returns the claims');
set local request.jwt.claims = '';
select is(auth.uid(), null, 'auth.uid() is null without claims');

select has_extension('pg_cron', 'pg_cron is installed');

select * from finish();
rollback;
