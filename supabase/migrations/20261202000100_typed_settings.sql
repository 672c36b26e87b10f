-- Settings are typed and validated on write. `settings` is the catalogue: each key has a kind
-- (integer, interval, text), a range (min_value / max_value, or a pattern for text) and says
-- whether a project may override it (`project_override`: 'none' platform-wide, 'lower' a project
-- may only tighten it, 'any' anything in range). Writes to `settings` and `project_settings` that
-- break these rules are refused with SQLSTATE 22023 and a message naming the key. Readers never
-- trust a stored override: one that is unreadable or out of range (a row planted past the checks)
-- reads as the platform value, so one tenant's row cannot stop anything for the others.
-- Safe to run twice.

alter table public.settings add column if not exists min_value jsonb;
alter table public.settings add column if not exists max_value jsonb;
alter table public.settings add column if not exists pattern text;
alter table public.settings add column if not exists project_override text not null default 'none';

do $$
begin
  if not exists (select 1 from pg_constraint where conrelid = 'public.settings'::regclass
                   and conname = 'settings_project_override_check') then
    alter table public.settings add constraint settings_project_override_check
      check (project_override in ('none', 'lower', 'any'));
  end if;
  -- Text settings (the default agent) join integers and intervals.
  if exists (select 1 from pg_constraint where conrelid = 'public.settings'::regclass and conname = 'settings_kind_check'
               and pg_get_constraintdef(oid) not like '%''text''::text%') then
    alter table public.settings drop constraint settings_kind_check;
  end if;
  if not exists (select 1 from pg_constraint where conrelid = 'public.settings'::regclass and conname = 'settings_kind_check') then
    alter table public.settings add constraint settings_kind_check check (kind in ('integer', 'interval', 'text'));
  end if;
end $$;

comment on column public.settings.project_override is
  'none: platform-wide; lower: a project may only set a smaller value; any: a project may set any value in range';

-- Ranges and override rules of the settings known so far. Intervals may go down to a second so
-- tests can shorten them; what is read per project is what a project may override.
update public.settings s set min_value = r.lo, max_value = r.hi, project_override = r.ov
  from (values
    ('max_dispatch_depth', '0'::jsonb, '10'::jsonb, 'lower'),
    ('max_active_children', '0', '100', 'lower'),
    ('max_active_dispatched', '0', '1000', 'lower'),
    ('max_message_batch', '1', '1000', 'lower'),
    ('max_workspaces_per_node', '1', '100', 'lower'),
    ('sweep_batch', '1', '10000', 'none'),
    ('job_max_attempts', '1', '100', 'lower'),
    ('warm_timeout', '"1 second"', '"7 days"', 'any'),
    ('idle_node_lifetime', '"1 second"', '"30 days"', 'none'),
    ('node_absolute_lifetime', '"1 second"', '"30 days"', 'none'),
    ('heartbeat_interval', '"1 second"', '"1 hour"', 'none'),
    ('heartbeat_stale', '"1 second"', '"1 day"', 'lower'),
    ('provisioning_timeout', '"1 second"', '"1 day"', 'any'),
    ('agent_ready_timeout', '"1 second"', '"1 day"', 'any'),
    ('workspace_ready_timeout', '"1 second"', '"1 day"', 'any'),
    ('queued_timeout', '"1 second"', '"1 day"', 'any'),
    ('bootstrap_token_ttl', '"1 second"', '"1 day"', 'none'),
    ('node_token_ttl', '"1 second"', '"7 days"', 'none'),
    ('workspace_token_ttl', '"1 second"', '"30 days"', 'none'),
    ('agent_token_ttl', '"1 second"', '"7 days"', 'lower'),
    ('agent_token_max', '"1 second"', '"30 days"', 'lower'),
    ('human_input_ttl', '"1 second"', '"30 days"', 'any'),
    ('job_backoff_base', '"1 second"', '"1 hour"', 'lower'),
    ('job_backoff_max', '"1 second"', '"1 day"', 'lower'),
    ('job_lease', '"1 second"', '"1 hour"', 'none')
  ) as r(key, lo, hi, ov)
 where s.key = r.key
   and (s.min_value, s.max_value, s.project_override) is distinct from (r.lo, r.hi, r.ov);

-- Why a value is not acceptable for a setting (null when it is). p_for_project: as a project's
-- override (then the override rule and, for 'lower', the platform value apply too).
create or replace function public.sam_setting_problem(p_def public.settings, p_value jsonb, p_for_project boolean)
returns text language plpgsql stable set search_path = '' as $$
declare n numeric; i interval; shown text := coalesce(p_value::text, 'null');
begin
  if p_for_project and p_def.project_override = 'none' then
    return format('setting %s is platform-wide and cannot be set per project', p_def.key);
  end if;
  if p_def.kind = 'integer' then
    if jsonb_typeof(p_value) = 'number' then n := p_value::numeric; end if;
    if n is null or n <> trunc(n) or abs(n) > 2147483647 then
      return format('setting %s takes a whole number, not %s', p_def.key, shown);
    end if;
    if p_def.min_value is not null and n < p_def.min_value::numeric then
      return format('setting %s is at least %s, not %s', p_def.key, p_def.min_value, shown);
    end if;
    if p_def.max_value is not null and n > p_def.max_value::numeric then
      return format('setting %s is at most %s, not %s', p_def.key, p_def.max_value, shown);
    end if;
    if p_for_project and p_def.project_override = 'lower' and n > (p_def.value)::numeric then
      return format('setting %s may only be lowered for a project (platform value %s), not %s', p_def.key, p_def.value, shown);
    end if;
  elsif p_def.kind = 'interval' then
    begin
      if jsonb_typeof(p_value) is distinct from 'string' then raise exception using errcode = '22007'; end if;
      i := (p_value #>> '{}')::interval;
    exception when others then
      return format('setting %s takes an interval such as "15 minutes", not %s', p_def.key, shown);
    end;
    if p_def.min_value is not null and i < (p_def.min_value #>> '{}')::interval then
      return format('setting %s is at least %s, not %s', p_def.key, p_def.min_value, shown);
    end if;
    if p_def.max_value is not null and i > (p_def.max_value #>> '{}')::interval then
      return format('setting %s is at most %s, not %s', p_def.key, p_def.max_value, shown);
    end if;
    if p_for_project and p_def.project_override = 'lower' and i > (p_def.value #>> '{}')::interval then
      return format('setting %s may only be lowered for a project (platform value %s), not %s', p_def.key, p_def.value, shown);
    end if;
  elsif p_def.kind = 'text' then
    if jsonb_typeof(p_value) is distinct from 'string' then
      return format('setting %s takes a string, not %s', p_def.key, shown);
    end if;
    if p_def.pattern is not null and (p_value #>> '{}') !~ p_def.pattern then
      return format('setting %s must match %s, not %s', p_def.key, p_def.pattern, shown);
    end if;
  else
    return format('setting %s has unknown kind %s', p_def.key, p_def.kind);
  end if;
  return null;
end $$;

-- The checks on write. AFTER triggers, so privileges and RLS refuse a stranger first; named to
-- fire before the foreign key's own trigger, so an unknown key gets this clear message.
create or replace function public.sam_check_setting_row() returns trigger
language plpgsql security definer set search_path = '' as $$
declare d public.settings; problem text;
begin
  if tg_table_name = 'settings' then
    problem := public.sam_setting_problem(new, new.value, false);
  else
    select * into d from public.settings where key = new.key;
    if d.key is null then
      problem := format('unknown setting %s', new.key);
    else
      problem := public.sam_setting_problem(d, new.value, true);
    end if;
  end if;
  if problem is not null then
    raise exception '%', problem using errcode = '22023', detail = 'setting=' || new.key;
  end if;
  return null;
end $$;
drop trigger if exists "Check a platform setting is typed and in range" on public.settings;
create trigger "Check a platform setting is typed and in range" after insert or update on public.settings
  for each row execute function public.sam_check_setting_row();
drop trigger if exists "Check a project setting is known, typed and in range" on public.project_settings;
create trigger "Check a project setting is known, typed and in range" after insert or update on public.project_settings
  for each row execute function public.sam_check_setting_row();

-- The one reader: the project's override when it is acceptable now, else the platform value.
create or replace function public.setting(p_key text, p_project uuid default null) returns jsonb
language plpgsql stable security definer set search_path = '' as $$
declare d public.settings; o jsonb;
begin
  select * into d from public.settings where key = p_key;
  if d.key is null then
    raise exception 'unknown setting %', p_key using errcode = '22023';
  end if;
  if p_project is not null and d.project_override <> 'none' then
    select ps.value into o from public.project_settings ps where ps.project_id = p_project and ps.key = p_key;
    if o is not null and public.sam_setting_problem(d, o, true) is null then
      return o;
    end if;
  end if;
  return d.value;
end $$;
create or replace function public.setting_text(p_key text, p_project uuid default null) returns text
language sql stable set search_path = '' as $$ select public.setting(p_key, p_project) #>> '{}' $$;

-- The shortest acceptable value of an interval setting over the platform and every project
-- override (the bound an indexed sweep selects candidates by); unacceptable overrides do not count.
create or replace function public.sam_min_interval(p_key text) returns interval
language sql stable security definer set search_path = '' as $$
  select least(public.setting_interval(p_key),
               (select min(public.setting_interval(p_key, ps.project_id)) from public.project_settings ps where ps.key = p_key))
$$;

-- As every migration ends: nothing executable by public or anon, everything by service_role.
revoke execute on all functions in schema public from public, anon;
grant execute on all functions in schema public to service_role;
