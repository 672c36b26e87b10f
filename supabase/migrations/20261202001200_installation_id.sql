-- One stable id per SAM installation (this database), made once. Every machine the orchestrator
-- creates is labelled `sam-installation=<id>`, and the orphan sweep deletes only machines carrying
-- it: two installations that share a cloud account never delete each other's machines. The sweep
-- also spares machines younger than `orphan_min_age`.

create table if not exists public.installation (
  singleton boolean primary key default true check (singleton),
  id uuid not null unique default extensions.gen_random_uuid(),
  created_at timestamptz not null default now()
);
comment on table public.installation is
  'This SAM installation: one row, its id labels every machine the orchestrator creates (read through public.sam_installation_id()).';
insert into public.installation default values on conflict (singleton) do nothing;

alter table public.installation enable row level security;
revoke all on public.installation from public, anon, authenticated;
grant select on public.installation to service_role;

-- The installation's id; made on first use where the row is missing (a schema loaded without data).
create or replace function public.sam_installation_id() returns uuid
language plpgsql security definer set search_path = '' as $$
declare i uuid;
begin
  select id into i from public.installation;
  if i is null then
    insert into public.installation default values on conflict (singleton) do nothing;
    select id into i from public.installation;
  end if;
  return i;
end $$;

insert into public.settings (key, value, kind, description) values
  ('orphan_min_age', '"30 minutes"', 'interval',
   'the orphan sweep deletes none of this installation''s unknown machines younger than this')
on conflict (key) do nothing;

-- What the orphan sweep needs besides provider_nodes_to_keep: whose machines are ours, and the
-- newest creation time a machine may have to be deleted (now − orphan_min_age).
create or replace function public.orphan_sweep_policy()
returns table (installation_id uuid, created_before timestamptz)
language sql security definer set search_path = '' as $$
  select public.sam_installation_id(), public.sam_now() - public.setting_interval('orphan_min_age')
$$;

-- Internal: the orchestrator (service_role) only, whatever a platform grants by default.
revoke execute on function public.sam_installation_id(), public.orphan_sweep_policy() from public, anon, authenticated;

-- As every migration ends: nothing executable by public or anon, everything by service_role.
revoke execute on all functions in schema public from public, anon;
grant execute on all functions in schema public to service_role;
