-- Per database: a lookalike of Supabase Vault's SQL surface (supabase_vault 0.3.x,
-- libsodium-backed), which Debian does not package. Same table, view and function signatures, so migrations
-- and scripts read `vault.decrypted_secrets` and call `vault.create_secret` as on hosted. Locally
-- the secret is stored as given (no libsodium): `decrypted_secret` is `secret`. The database files
-- of the local cluster are the user's own, mode 0700.
-- Hosted: the schema and its objects belong to supabase_admin; postgres gets them with grant
-- option; execute on the functions is revoked from PUBLIC.
create schema if not exists vault;
alter schema vault owner to supabase_admin;

create table if not exists vault.secrets (
  id uuid primary key default extensions.gen_random_uuid(),
  name text,
  description text not null default '',
  secret text not null,
  key_id uuid,
  nonce bytea default extensions.gen_random_bytes(16),
  created_at timestamptz not null default current_timestamp,
  updated_at timestamptz not null default current_timestamp
);
create unique index if not exists secrets_name_idx on vault.secrets (name) where name is not null;
comment on table vault.secrets is 'Table with encrypted `secret` column for storing sensitive information on disk.';
alter table vault.secrets owner to supabase_admin;

create or replace view vault.decrypted_secrets as
select s.id, s.name, s.description, s.secret, s.secret as decrypted_secret, s.key_id, s.nonce, s.created_at,
       s.updated_at
  from vault.secrets s;
alter view vault.decrypted_secrets owner to supabase_admin;

create or replace function vault.create_secret(
  new_secret text,
  new_name text = null,
  new_description text = '',
  -- unused, as on hosted
  new_key_id uuid = null
) returns uuid
language plpgsql security definer set search_path = '' as $$
declare
  rec record;
begin
  insert into vault.secrets (secret, name, description)
  values (new_secret, new_name, new_description)
  returning * into rec;
  return rec.id;
end
$$;
alter function vault.create_secret(text, text, text, uuid) owner to supabase_admin;

create or replace function vault.update_secret(
  secret_id uuid,
  new_secret text = null,
  new_name text = null,
  new_description text = null,
  -- unused, as on hosted
  new_key_id uuid = null
) returns void
language plpgsql security definer set search_path = '' as $$
begin
  update vault.secrets s
     set secret = coalesce(new_secret, s.secret),
         name = coalesce(new_name, s.name),
         description = coalesce(new_description, s.description),
         updated_at = now()
   where s.id = secret_id;
end
$$;
alter function vault.update_secret(uuid, text, text, text, uuid) owner to supabase_admin;

revoke all on schema vault from public;
revoke all on vault.secrets, vault.decrypted_secrets from public;
revoke all on function vault.create_secret(text, text, text, uuid), vault.update_secret(uuid, text, text, text, uuid)
  from public;
grant usage on schema vault to postgres with grant option;
grant select, delete on vault.secrets, vault.decrypted_secrets to postgres with grant option;
grant execute on function vault.create_secret(text, text, text, uuid), vault.update_secret(uuid, text, text, text, uuid)
  to postgres with grant option;
grant usage on schema vault to service_role;
grant select, delete on vault.secrets, vault.decrypted_secrets to service_role;
grant execute on function vault.create_secret(text, text, text, uuid), vault.update_secret(uuid, text, text, text, uuid)
  to service_role;
