-- GitHub links: the App installations a user has proven are theirs, and the GitHub repository a
-- project works on. The `github` edge function writes both, as the system, after checking with
-- GitHub (the user's own `GET /user/installations` must list an installation before it is linked;
-- a repository must be reachable through a linked installation before a project points at it).
-- Projects keep GitHub's numeric repository id: it survives renames and transfers, the name does not.

create table if not exists public.github_installations (
  id uuid primary key default extensions.gen_random_uuid(),
  owner_id uuid not null references auth.users (id) on delete cascade,
  installation_id bigint not null check (installation_id > 0),
  account_id bigint not null check (account_id >= 0),
  account_login text not null check (length(account_login) between 1 and 100),
  account_type text not null check (account_type in ('User', 'Organization', 'Enterprise')),
  repository_selection text not null default 'all' check (repository_selection in ('all', 'selected')),
  created_at timestamptz not null default public.sam_now(),
  updated_at timestamptz not null default public.sam_now(),
  -- An organisation's installation may be linked by several of its members, each for themselves.
  unique (owner_id, installation_id)
);
create index if not exists github_installations_installation_idx on public.github_installations (installation_id);

alter table public.github_installations enable row level security;
grant select on public.github_installations to authenticated;
grant all on public.github_installations to service_role;

drop policy if exists "Users can read the GitHub installations they linked" on public.github_installations;
create policy "Users can read the GitHub installations they linked" on public.github_installations
  for select to authenticated using (owner_id = (select auth.uid()));

alter table public.projects add column if not exists github_installation_id bigint;
alter table public.projects add column if not exists github_repository_id bigint;
alter table public.projects add column if not exists github_full_name text;

do $$
begin
  if not exists (select 1 from pg_constraint where conname = 'projects_github_link_check') then
    alter table public.projects add constraint projects_github_link_check check (
      (github_installation_id is null and github_repository_id is null and github_full_name is null)
      or (github_installation_id > 0 and github_repository_id > 0
          and github_full_name ~ '^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$' and length(github_full_name) <= 200));
  end if;
end $$;

-- Users may read the link but never write it: a project pointing at a repository of an installation
-- that is not theirs would get tokens for it. (Column grants alone would not do: inserts are granted
-- on the whole table.)
create or replace function public.sam_guard_project_github() returns trigger
language plpgsql set search_path = '' as $$
begin
  if current_user in ('authenticated', 'anon') and (
       (tg_op = 'INSERT' and (new.github_installation_id is not null or new.github_repository_id is not null
                              or new.github_full_name is not null))
    or (tg_op = 'UPDATE' and (new.github_installation_id is distinct from old.github_installation_id
                              or new.github_repository_id is distinct from old.github_repository_id
                              or new.github_full_name is distinct from old.github_full_name))) then
    raise exception 'a project''s GitHub repository is set through the github function'
      using errcode = '42501';
  end if;
  return new;
end $$;
revoke all on function public.sam_guard_project_github() from public;

drop trigger if exists projects_github_guard on public.projects;
create trigger projects_github_guard before insert or update on public.projects
  for each row execute function public.sam_guard_project_github();

-- Records (or refreshes) a proven link. Only the github function calls it, for the user it verified.
create or replace function public.link_github_installation(
  p_owner uuid, p_installation_id bigint, p_account_id bigint, p_account_login text, p_account_type text,
  p_repository_selection text
) returns public.github_installations
language plpgsql security definer set search_path = '' as $$
declare
  v_row public.github_installations;
begin
  insert into public.github_installations as g
    (owner_id, installation_id, account_id, account_login, account_type, repository_selection)
  values (p_owner, p_installation_id, p_account_id, p_account_login, p_account_type, p_repository_selection)
  on conflict (owner_id, installation_id) do update
    set account_id = excluded.account_id, account_login = excluded.account_login,
        account_type = excluded.account_type, repository_selection = excluded.repository_selection,
        updated_at = public.sam_now()
  returning g.* into v_row;
  return v_row;
end $$;

-- Drops a user's link; their projects on it lose their GitHub repository (a later task could not
-- get a token for it anyway). Returns whether there was a link.
create or replace function public.unlink_github_installation(p_owner uuid, p_installation_id bigint)
returns boolean
language plpgsql security definer set search_path = '' as $$
begin
  update public.projects
     set github_installation_id = null, github_repository_id = null, github_full_name = null,
         updated_at = public.sam_now()
   where owner_id = p_owner and github_installation_id = p_installation_id;
  delete from public.github_installations where owner_id = p_owner and installation_id = p_installation_id;
  return found;
end $$;

-- Points the owner's project at a GitHub repository reachable through an installation they linked
-- (the function checked the repository with GitHub first). The clone URL becomes the repository.
create or replace function public.set_project_github_repository(
  p_owner uuid, p_project uuid, p_installation_id bigint, p_repository_id bigint, p_full_name text,
  p_clone_url text, p_default_branch text
) returns public.projects
language plpgsql security definer set search_path = '' as $$
declare
  v_row public.projects;
begin
  if not exists (
    select 1 from public.github_installations where owner_id = p_owner and installation_id = p_installation_id
  ) then
    raise exception 'GitHub installation % is not linked to your account', p_installation_id using errcode = '42501';
  end if;
  update public.projects
     set github_installation_id = p_installation_id, github_repository_id = p_repository_id,
         github_full_name = p_full_name, repository = p_clone_url, repo_provider = 'github',
         default_branch = coalesce(nullif(p_default_branch, ''), default_branch), updated_at = public.sam_now()
   where id = p_project and owner_id = p_owner
  returning * into v_row;
  if not found then
    raise exception 'project % is not yours', p_project using errcode = 'P0002';
  end if;
  return v_row;
end $$;

revoke all on function public.link_github_installation(uuid, bigint, bigint, text, text, text) from public;
revoke all on function public.unlink_github_installation(uuid, bigint) from public;
revoke all on function public.set_project_github_repository(uuid, uuid, bigint, bigint, text, text, text) from public;
grant execute on function public.link_github_installation(uuid, bigint, bigint, text, text, text) to service_role;
grant execute on function public.unlink_github_installation(uuid, bigint) to service_role;
grant execute on function public.set_project_github_repository(uuid, uuid, bigint, bigint, text, text, text)
  to service_role;
