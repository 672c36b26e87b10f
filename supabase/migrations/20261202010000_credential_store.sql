-- Credentials a user stores once: model API keys per agent vendor (with an optional base URL for a
-- gateway), cloud tokens, deploy credentials for git hosts. The `credentials` edge function
-- encrypts the secret (AES-256-GCM, key outside the database, additional data binding the row's
-- owner, scope, type and provider) before it reaches Postgres; the browser sees only what is set,
-- its last four characters and when. A project-scoped row overrides the owner's own.

alter table public.credentials drop constraint if exists credentials_credential_type_check;
alter table public.credentials add constraint credentials_credential_type_check
  check (credential_type in ('cloud-provider', 'agent-api-key', 'git-deploy'));

alter table public.credentials add column if not exists base_url text;
alter table public.credentials add column if not exists hint text;
alter table public.credentials add column if not exists config jsonb not null default '{}'::jsonb;

do $$
begin
  if not exists (select 1 from pg_constraint where conname = 'credentials_base_url_check') then
    alter table public.credentials add constraint credentials_base_url_check
      check (base_url is null or (base_url ~ '^https?://[^\s]+$' and length(base_url) <= 2048));
  end if;
  if not exists (select 1 from pg_constraint where conname = 'credentials_hint_check') then
    alter table public.credentials add constraint credentials_hint_check check (hint is null or length(hint) <= 4);
  end if;
  if not exists (select 1 from pg_constraint where conname = 'credentials_config_check') then
    alter table public.credentials add constraint credentials_config_check
      check (jsonb_typeof(config) = 'object' and octet_length(config::text) <= 4096);
  end if;
end $$;

-- One credential per owner, scope (the owner's own, or one project), type and provider.
create unique index if not exists credentials_scope_uidx on public.credentials
  (owner_id, coalesce(project_id, '00000000-0000-0000-0000-000000000000'::uuid), credential_type, provider);

grant select (base_url, hint, config) on public.credentials to authenticated;

-- The providers each credential type knows. Git deploy credentials are per host name.
create or replace function public.sam_credential_provider_ok(p_type text, p_provider text) returns boolean
language sql immutable set search_path = '' as $$
  select case p_type
    when 'agent-api-key' then p_provider in ('anthropic', 'openai', 'gemini', 'opencode')
    when 'cloud-provider' then p_provider in ('hetzner', 'scaleway')
    when 'git-deploy' then p_provider ~ '^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:[0-9]{1,5})?$'
    else false
  end
$$;

-- Stores (or replaces) the owner's encrypted credential for a scope. Only the credentials function
-- calls it (as the system, for the owner it verified); the project must be the owner's.
create or replace function public.store_credential(
  p_owner uuid, p_project uuid, p_type text, p_provider text, p_ciphertext bytea, p_iv bytea,
  p_key_version integer, p_hint text, p_base_url text, p_config jsonb
) returns public.credentials
language plpgsql security definer set search_path = '' as $$
declare
  v_row public.credentials;
begin
  if not public.sam_credential_provider_ok(p_type, p_provider) then
    raise exception 'unknown provider % for % credentials', p_provider, p_type using errcode = '22023';
  end if;
  if p_project is not null and not exists (
    select 1 from public.projects where id = p_project and owner_id = p_owner
  ) then
    raise exception 'project % is not yours', p_project using errcode = '42501';
  end if;
  -- Serialise writers of the same scope so the upsert below cannot race into a duplicate.
  perform pg_advisory_xact_lock(hashtext(concat_ws('|', 'credential', p_owner, p_project, p_type, p_provider)));
  update public.credentials c
     set ciphertext = p_ciphertext, iv = p_iv, key_version = p_key_version, hint = p_hint,
         base_url = p_base_url, config = coalesce(p_config, '{}'::jsonb), is_active = true,
         updated_at = public.sam_now()
   where c.owner_id = p_owner and c.project_id is not distinct from p_project
     and c.credential_type = p_type and c.provider = p_provider
  returning c.* into v_row;
  if not found then
    insert into public.credentials (owner_id, project_id, provider, credential_type, agent_type, ciphertext, iv,
                                    key_version, hint, base_url, config)
    values (p_owner, p_project, p_provider, p_type, null, p_ciphertext, p_iv, p_key_version, p_hint, p_base_url,
            coalesce(p_config, '{}'::jsonb))
    returning * into v_row;
  end if;
  return v_row;
end $$;

-- The credential that applies to a project's work: the project's own, else the owner's. Only the
-- functions that hand a secret to its one consumer call it (as the system).
create or replace function public.resolve_credential(p_owner uuid, p_project uuid, p_type text, p_provider text)
returns setof public.credentials
language sql stable security definer set search_path = '' as $$
  select c.* from public.credentials c
  where c.owner_id = p_owner and c.credential_type = p_type and c.provider = p_provider and c.is_active
    and (c.project_id = p_project or c.project_id is null)
  order by c.project_id is null
  limit 1
$$;

revoke all on function public.sam_credential_provider_ok(text, text) from public, anon, authenticated;
revoke all on function public.store_credential(uuid, uuid, text, text, bytea, bytea, integer, text, text, jsonb)
  from public, anon, authenticated;
revoke all on function public.resolve_credential(uuid, uuid, text, text) from public, anon, authenticated;
grant execute on function public.store_credential(uuid, uuid, text, text, bytea, bytea, integer, text, text, jsonb)
  to service_role;
grant execute on function public.resolve_credential(uuid, uuid, text, text) to service_role;
grant execute on function public.sam_credential_provider_ok(text, text) to service_role;
