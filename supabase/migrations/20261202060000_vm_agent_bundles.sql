-- The vm-agent as one file (vm-agent/bundle/build.ts), kept where every function can reach it on
-- hosted and local alike: the database. `scripts/sam start`, the tests and a deploy publish the
-- build; the vm-agent function serves it to machines (GET /vm-agent/bundle, with its sha256 in a
-- header), cloud-init and the bring-your-own command check the sha256 before running it. The
-- newest published row is the current one. Nobody but the platform reads or writes the table.

create table if not exists public.vm_agent_bundles (
  sha256 text primary key check (sha256 ~ '^[0-9a-f]{64}$'),
  version text not null check (length(version) between 1 and 64),
  content text not null check (octet_length(content) between 1 and 16777216),
  published_at timestamptz not null default public.sam_now()
);
create index if not exists vm_agent_bundles_published_idx on public.vm_agent_bundles (published_at desc);
comment on table public.vm_agent_bundles is
  'Built vm-agent bundles (one self-contained .mjs each), served to machines by the vm-agent function; the newest published is current.';

alter table public.vm_agent_bundles enable row level security;
revoke all on public.vm_agent_bundles from public, anon, authenticated;
grant select on public.vm_agent_bundles to service_role;

-- Publishes a build (or makes an earlier one current again). The sha256 must be the content's.
create or replace function public.publish_vm_agent_bundle(p_version text, p_sha256 text, p_content text)
returns boolean
language plpgsql security definer set search_path = '' as $$
begin
  if encode(extensions.digest(convert_to(p_content, 'UTF8'), 'sha256'), 'hex') is distinct from p_sha256 then
    raise exception 'the vm-agent bundle does not have the sha256 it was published with' using errcode = '22023';
  end if;
  insert into public.vm_agent_bundles (sha256, version, content) values (p_sha256, p_version, p_content)
  on conflict (sha256) do update set published_at = public.sam_now(), version = excluded.version;
  return true;
end $$;

-- The current bundle's identity (not its content): what cloud-init and the bring-your-own command check.
create or replace function public.current_vm_agent_bundle()
returns table (version text, sha256 text, bytes integer)
language sql stable security definer set search_path = '' as $$
  select b.version, b.sha256, octet_length(b.content) from public.vm_agent_bundles b
   order by b.published_at desc, b.sha256 limit 1
$$;

revoke execute on function public.publish_vm_agent_bundle(text, text, text), public.current_vm_agent_bundle()
  from public, anon, authenticated;
grant execute on function public.publish_vm_agent_bundle(text, text, text), public.current_vm_agent_bundle()
  to service_role;
