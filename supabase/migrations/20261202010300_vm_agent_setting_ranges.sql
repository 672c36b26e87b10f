-- The command lease, delivery cap and node-token renewal grace get their ranges like every other
-- setting (they are platform-wide: one machine's commands follow one policy).
update public.settings s set min_value = r.lo, max_value = r.hi, project_override = 'none'
  from (values
    ('node_command_lease', '"1 second"'::jsonb, '"1 hour"'::jsonb),
    ('node_command_max_deliveries', '1', '100'),
    ('node_token_renew_grace', '"1 second"', '"30 days"')
  ) as r(key, lo, hi)
 where s.key = r.key
   and (s.min_value, s.max_value, s.project_override) is distinct from (r.lo, r.hi, 'none');
