-- Per database: a lookalike of the pg_net extension's SQL surface (v0.20.4), which
-- Debian does not package. The requests are queued here exactly as pg_net queues them; the local
-- stack's worker (supabase/local/net) plays pg_net's background worker: it LISTENs on the channel
-- `net.wake()` notifies, drains the queue, performs the requests and writes net._http_response.
-- A notification is delivered on commit only, and the queue rows of a rolled-back transaction
-- never exist, so like pg_net nothing is sent for a transaction that does not commit.
-- Hosted grants follow supabase/postgres (20220713082019_pg_cron-pg_net-temp-perms-fix): the
-- request functions are SECURITY DEFINER so every API role can enqueue.
create schema if not exists net authorization supabase_functions_admin;
alter schema net owner to supabase_functions_admin;
grant usage on schema net to public;
grant usage on schema net to supabase_functions_admin, postgres, anon, authenticated, service_role;

do $$ begin
  if not exists (select 1 from pg_type where typname = 'http_method' and typnamespace = 'net'::regnamespace) then
    create domain net.http_method as text
      check (value ilike 'get' or value ilike 'post' or value ilike 'delete');
  end if;
  if not exists (select 1 from pg_type where typname = 'request_status' and typnamespace = 'net'::regnamespace) then
    create type net.request_status as enum ('PENDING', 'SUCCESS', 'ERROR');
  end if;
  if not exists (select 1 from pg_type where typname = 'http_response' and typnamespace = 'net'::regnamespace) then
    create type net.http_response as (status_code integer, headers jsonb, body text);
  end if;
  if not exists (select 1 from pg_type where typname = 'http_response_result' and typnamespace = 'net'::regnamespace) then
    create type net.http_response_result as (status net.request_status, message text, response net.http_response);
  end if;
end $$;
alter domain net.http_method owner to supabase_functions_admin;
alter type net.request_status owner to supabase_functions_admin;
alter type net.http_response owner to supabase_functions_admin;
alter type net.http_response_result owner to supabase_functions_admin;

-- Pending requests; the worker deletes what it takes. Unlogged: lost on a crash, as with pg_net.
create unlogged table if not exists net.http_request_queue (
  id bigserial,
  method net.http_method not null,
  url text not null,
  headers jsonb,
  body bytea,
  timeout_milliseconds integer not null
);

-- Responses, matched to requests by id, deleted by the worker after pg_net.ttl (6 hours).
create unlogged table if not exists net._http_response (
  id bigint,
  status_code integer,
  content_type text,
  headers jsonb,
  content text,
  timed_out boolean,
  error_msg text,
  created timestamptz not null default now()
);
create index if not exists _http_response_created_idx on net._http_response (created);

alter table net.http_request_queue owner to supabase_functions_admin;
alter sequence net.http_request_queue_id_seq owner to supabase_functions_admin;
alter table net._http_response owner to supabase_functions_admin;
grant select, insert, update, delete on net.http_request_queue, net._http_response to postgres;
grant usage, select on sequence net.http_request_queue_id_seq to postgres;

-- Percent-encodes everything but RFC 3986 unreserved characters.
create or replace function net._urlencode_string(string varchar) returns text
language plpgsql immutable strict
as $$
declare
  bytes bytea := convert_to(string, 'UTF8');
  out text := '';
  b integer;
begin
  for i in 0 .. length(bytes) - 1 loop
    b := get_byte(bytes, i);
    if (b between 48 and 57) or (b between 65 and 90) or (b between 97 and 122) or b in (45, 46, 95, 126) then
      out := out || chr(b);
    else
      out := out || '%' || upper(lpad(to_hex(b), 2, '0'));
    end if;
  end loop;
  return out;
end;
$$;

-- Appends `k=v` pairs (already encoded) to a URL's query, before any fragment.
create or replace function net._encode_url_with_params_array(url text, params_array text[]) returns text
language plpgsql immutable strict
as $$
declare
  hash integer := position('#' in url);
  front text := case when hash > 0 then left(url, hash - 1) else url end;
  fragment text := case when hash > 0 then substr(url, hash) else '' end;
begin
  if cardinality(params_array) = 0 then
    return url;
  end if;
  return front
    || case when position('?' in front) = 0 then '?' when right(front, 1) in ('?', '&') then '' else '&' end
    || array_to_string(params_array, '&')
    || fragment;
end;
$$;

create or replace function net._params_array(params jsonb) returns text[]
language sql immutable
as $$
  select coalesce(array_agg(net._urlencode_string(key) || '=' || net._urlencode_string(value)), '{}')
  from jsonb_each_text(coalesce(params, '{}'::jsonb))
$$;

-- Tells the worker there is work. Local: a notification, delivered when the transaction commits.
create or replace function net.wake() returns void
language sql
as $$ select pg_notify('sam_net_wake', '') $$;

-- pg_net restarts its background worker; here the worker is told to reconnect and drain.
create or replace function net.worker_restart() returns boolean
language sql
as $$ select pg_notify('sam_net_wake', 'restart'); select true $$;

-- The local worker connects with application_name 'pg_net worker' (pg_net's backend_type).
create or replace function net.check_worker_is_up() returns void
language plpgsql
as $$
begin
  if not exists (
    select from pg_stat_activity
    where application_name = 'pg_net worker' and datname = current_database()
  ) then
    raise exception using
      message = 'the pg_net background worker is not up',
      detail = 'the pg_net background worker is down due to an internal error and cannot process requests',
      hint = 'make sure that you didn''t modify any of pg_net internal tables';
  end if;
end
$$;
comment on function net.check_worker_is_up() is
  'raises an exception if the pg_net background worker is not up, otherwise it doesn''t return anything';

create or replace function net.wait_until_running() returns void
language plpgsql
as $$
begin
  for i in 1 .. 200 loop
    if exists (
      select from pg_stat_activity
      where application_name = 'pg_net worker' and datname = current_database()
    ) then
      return;
    end if;
    perform pg_sleep(0.05);
  end loop;
  perform net.check_worker_is_up();
end
$$;
comment on function net.wait_until_running() is 'waits until the worker is running';

create or replace function net.http_get(
  url text,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{}'::jsonb,
  timeout_milliseconds integer default 5000
) returns bigint
language plpgsql volatile security definer
set search_path = net
as $$
declare
  request_id bigint;
begin
  insert into net.http_request_queue (method, url, headers, timeout_milliseconds)
  values ('GET', net._encode_url_with_params_array(url, net._params_array(params)), headers, timeout_milliseconds)
  returning id into request_id;
  perform net.wake();
  return request_id;
end
$$;

create or replace function net.http_post(
  url text,
  body jsonb default '{}'::jsonb,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{"Content-Type": "application/json"}'::jsonb,
  timeout_milliseconds integer default 5000
) returns bigint
language plpgsql volatile security definer
set search_path = net
as $$
declare
  request_id bigint;
  content_type text;
begin
  select value into content_type
  from jsonb_each_text(coalesce(headers, '{}'::jsonb))
  where lower(key) = 'content-type'
  limit 1;
  if content_type is null then
    headers := coalesce(headers, '{}'::jsonb) || '{"Content-Type": "application/json"}'::jsonb;
  elsif content_type <> 'application/json' then
    raise exception 'Content-Type header must be "application/json"';
  end if;
  if body is null then
    raise exception 'body must not be null';
  end if;
  insert into net.http_request_queue (method, url, headers, body, timeout_milliseconds)
  values (
    'POST',
    net._encode_url_with_params_array(url, net._params_array(params)),
    headers,
    convert_to(body::text, 'UTF8'),
    timeout_milliseconds
  )
  returning id into request_id;
  perform net.wake();
  return request_id;
end
$$;

create or replace function net.http_delete(
  url text,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{}'::jsonb,
  timeout_milliseconds integer default 5000,
  body jsonb default null
) returns bigint
language plpgsql volatile security definer
set search_path = net
as $$
declare
  request_id bigint;
begin
  insert into net.http_request_queue (method, url, headers, body, timeout_milliseconds)
  values (
    'DELETE',
    net._encode_url_with_params_array(url, net._params_array(params)),
    headers,
    convert_to(body::text, 'UTF8'),
    timeout_milliseconds
  )
  returning id into request_id;
  perform net.wake();
  return request_id;
end
$$;

-- The response of a request, if there is one yet; `async := false` waits for it.
create or replace function net._http_collect_response(request_id bigint, async boolean default true)
returns net.http_response_result
language plpgsql volatile strict
as $$
declare
  rec net._http_response;
begin
  if not async then
    loop
      select * into rec from net._http_response r where r.id = request_id;
      exit when found;
      perform pg_sleep(0.05);
    end loop;
  else
    select * into rec from net._http_response r where r.id = request_id;
  end if;
  if rec.id is null or rec.error_msg is not null then
    return ('ERROR', coalesce(rec.error_msg, 'request matching request_id not found'), null)::net.http_response_result;
  end if;
  return ('SUCCESS', 'ok', (rec.status_code, rec.headers, rec.content)::net.http_response)::net.http_response_result;
end
$$;

create or replace function net.http_collect_response(request_id bigint, async boolean default true)
returns net.http_response_result
language plpgsql volatile strict
as $$
begin
  raise notice 'The net.http_collect_response function is deprecated.';
  return net._http_collect_response(request_id, async);
end
$$;

do $$
declare
  f text;
begin
  foreach f in array array[
    'net._urlencode_string(varchar)', 'net._encode_url_with_params_array(text, text[])',
    'net._params_array(jsonb)', 'net.wake()', 'net.worker_restart()', 'net.check_worker_is_up()',
    'net.wait_until_running()', 'net.http_get(text, jsonb, jsonb, integer)',
    'net.http_post(text, jsonb, jsonb, jsonb, integer)', 'net.http_delete(text, jsonb, jsonb, integer, jsonb)',
    'net._http_collect_response(bigint, boolean)', 'net.http_collect_response(bigint, boolean)'
  ] loop
    execute format('alter function %s owner to supabase_functions_admin', f);
  end loop;
end $$;

-- Hosted: execute on the request functions for the API roles and postgres, not for PUBLIC.
revoke all on function net.http_get(text, jsonb, jsonb, integer) from public;
revoke all on function net.http_post(text, jsonb, jsonb, jsonb, integer) from public;
revoke all on function net.http_delete(text, jsonb, jsonb, integer, jsonb) from public;
grant execute on function
  net.http_get(text, jsonb, jsonb, integer),
  net.http_post(text, jsonb, jsonb, jsonb, integer),
  net.http_delete(text, jsonb, jsonb, integer, jsonb)
  to supabase_functions_admin, postgres, anon, authenticated, service_role;
