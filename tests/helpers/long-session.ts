/**
 * A long conversation for the windowed chat: `count` agent messages (mostly text, every tenth a
 * finished tool call, every tenth a thought) appended to a session in one statement, with the
 * broadcast trigger off (`session_replication_role = replica`): they are history a page reads on
 * open, not news. The newest is the assistant text `message <count>`.
 */
import type postgres from 'postgres';

export async function insertLongSession(
  admin: postgres.Sql,
  sessionId: string,
  count = 10_000,
): Promise<{ firstId: number; lastId: number }> {
  const rows = await admin.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    return tx`
      insert into public.messages (session_id, project_id, owner_id, message_id, role, content, tool_call_id,
                                   tool_status, tool_metadata, produced_at)
      select s.id, s.project_id, s.owner_id, 'bulk-' || g,
             (case g % 10 when 3 then 'tool' when 7 then 'thought' else 'assistant' end)::public.message_role,
             case g % 10 when 3 then 'Read file-' || g || '.ts' when 7 then 'Thinking about step ' || g
                  else 'message ' || g || repeat(' lorem ipsum', (g % 7) * 6) end,
             case g % 10 when 3 then 'bulk-call-' || g end,
             case g % 10 when 3 then 'completed'::public.tool_status end,
             case g % 10 when 3 then jsonb_build_object('title', 'Read file-' || g || '.ts', 'kind', 'read')
                  else '{}'::jsonb end,
             now()
        from public.chat_sessions s, generate_series(1, ${count}) g
       where s.id = ${sessionId}
      returning id`;
  });
  const ids = rows.map((r) => Number(r.id));
  return { firstId: Math.min(...ids), lastId: Math.max(...ids) };
}
