-- Control plane, part 13: who may execute what. Nothing is executable by PUBLIC or anon; each
-- identity gets exactly the functions its flows call; every function checks the caller again.
revoke execute on all functions in schema public from public, anon;
grant execute on all functions in schema public to service_role;

grant execute on function
  public.submit_task(uuid, text, jsonb), public.ready_task(uuid), public.rerun_task(uuid), public.run_task(uuid),
  public.complete_task(uuid, text, text, jsonb), public.fail_task(uuid, text), public.cancel_task(uuid, text),
  public.retry_task(uuid, text), public.fork_task(uuid, text, jsonb), public.destroy_node(uuid, text),
  public.stop_workspace(uuid, text), public.stop_agent_session(uuid, text), public.revoke_token(uuid, text),
  public.post_message(uuid, text, text), public.answer_human_input(uuid, text)
  to authenticated;

grant execute on function
  public.dispatch_task(text, jsonb), public.complete_task(uuid, text, text, jsonb), public.fail_task(uuid, text),
  public.cancel_task(uuid, text), public.retry_task(uuid, text), public.request_human_input(text, text, jsonb),
  public.refresh_agent_token()
  to sam_agent;

grant execute on function
  public.workspace_ready(uuid), public.workspace_stopped(uuid), public.workspace_failed(text, uuid),
  public.start_agent_session(text, uuid), public.agent_session_ready(uuid), public.agent_session_prompting(uuid),
  public.agent_session_recovering(uuid, text), public.stop_agent_session(uuid, text), public.fail_agent_session(uuid, text),
  public.record_messages(uuid, jsonb), public.advance_task_step(uuid, public.task_step, text),
  public.complete_task(uuid, text, text, jsonb), public.fail_task(uuid, text)
  to sam_workspace;

grant execute on function
  public.node_heartbeat(jsonb), public.poll_node_commands(integer), public.ack_node_command(uuid, boolean, jsonb)
  to sam_node;
