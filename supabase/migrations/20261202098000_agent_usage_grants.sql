-- agent_session_usage's grants in one order (service_role, then authenticated), so applying the
-- migrations again leaves the same ACL. 20261202020000_agent_usage granted them the other way round;
-- that migration has landed and stays as it is, this one settles the ACL after it.
revoke all on public.agent_session_usage from public, anon, authenticated, service_role, sam_node, sam_workspace, sam_agent;
grant all on public.agent_session_usage to service_role;
grant select on public.agent_session_usage to authenticated;
