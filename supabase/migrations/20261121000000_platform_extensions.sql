-- Extensions the control plane relies on. On hosted Supabase these are enabled per project; the
-- statements are no-ops where they already exist.
create extension if not exists pgcrypto with schema extensions;
create extension if not exists pg_cron;
