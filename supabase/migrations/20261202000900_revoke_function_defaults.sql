-- Revoke by default. Earlier migrations end with `revoke … from public, anon`, which is enough on
-- a secure-by-default platform image; older images also grant EXECUTE on every new function in
-- `public` to `authenticated` (and `anon`) through default privileges, which made every internal
-- SECURITY DEFINER function (issue_bootstrap_token, sam_enqueue_job, sam_task_move, …) callable
-- by any signed-in user through the Data API. So: EXECUTE is taken from public, anon and
-- authenticated on every function in `public`, then given back to authenticated for exactly the
-- RPCs users call (plus the pure predicates); and the migration role's default privileges stop
-- granting new functions to them, so a later migration's function is internal until it is
-- granted. service_role keeps everything; sam_node / sam_workspace / sam_agent keep their grants.
-- tests/db/function-privileges.test.ts runs every migration on a database with the permissive
-- defaults. A later migration that adds a user-facing RPC grants it to authenticated and adds it
-- to the lists in that test and in supabase/tests/010_rls_matrix.sql. Safe to run twice.

revoke execute on all functions in schema public from public, anon, authenticated;
grant execute on all functions in schema public to service_role;

-- Pure predicates and the clock (SECURITY INVOKER, reveal nothing).
grant execute on function public.sam_now(), public.sam_role(), public.sam_caller(),
  public.is_terminal(public.task_status), public.is_active(public.task_status), public.is_terminal(public.node_status),
  public.is_live(public.node_status), public.is_terminal(public.workspace_status),
  public.is_terminal(public.agent_session_status), public.is_terminal(public.human_input_status),
  public.is_terminal(public.job_status)
  to authenticated;

-- The RPCs users call (each checks its caller again), and the Realtime join check.
grant execute on function
  public.submit_task(uuid, text, jsonb), public.ready_task(uuid), public.rerun_task(uuid), public.run_task(uuid),
  public.complete_task(uuid, text, text, jsonb), public.fail_task(uuid, text), public.cancel_task(uuid, text),
  public.retry_task(uuid, text), public.fork_task(uuid, text, jsonb), public.destroy_node(uuid, text),
  public.stop_workspace(uuid, text), public.stop_agent_session(uuid, text), public.revoke_token(uuid, text),
  public.post_message(uuid, text, text), public.answer_human_input(uuid, text),
  public.send_directive(uuid, text, text, jsonb), public.create_idea(text, text, integer, uuid),
  public.update_idea(uuid, jsonb), public.get_session_messages(uuid, integer, bigint, bigint),
  public.sam_can_use_topic(text)
  to authenticated;

-- Functions the migration role creates from now on: nobody but their owner and service_role.
alter default privileges revoke execute on functions from public;
alter default privileges in schema public revoke execute on functions from public, anon, authenticated;
alter default privileges in schema public grant execute on functions to service_role;
