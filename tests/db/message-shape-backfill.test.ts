import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { expect, it } from 'vitest';
import { paths } from '../../supabase/local/paths.ts';
import { useTestDatabase } from '../helpers/test-database.ts';

/**
 * supabase/migrations/20261202003000_message_shape.sql on messages stored in the older shape: tool
 * call ids and statuses folded into `tool_metadata`, and an agent's echo of a prompt stored as the
 * user's own message. Applied again over such rows (migrations are safe to run twice), it moves
 * them to what they are.
 */
const db = useTestDatabase('message_shape_backfill');
const MIGRATION = join(paths.migrations, '20261202003000_message_shape.sql');

it('moves folded tool fields to their columns and stored echoes to the agent', async () => {
  const [ids] = await db.admin`
    with u as (insert into auth.users (id, email) values (gen_random_uuid(), 'backfill@example.com') returning id),
         p as (insert into public.projects (owner_id, name, repository) select id, 'p', 'o/p' from u returning id, owner_id),
         t as (insert into public.tasks (project_id, owner_id, title, status)
               select id, owner_id, 'T', 'in_progress' from p returning id, project_id, owner_id),
         c as (insert into public.chat_sessions (project_id, owner_id, task_id, topic)
               select project_id, owner_id, id, 'T' from t returning id, project_id, owner_id)
    select id as session, project_id as project, owner_id as owner from c`;
  const { session, project, owner } = ids!;
  // Rows as the earlier record_messages wrote them (the constraint allows tool fields on tool rows).
  await db.admin`
    insert into public.messages (session_id, project_id, owner_id, message_id, role, content, tool_metadata, origin)
    values (${session}, ${project}, ${owner}, 'old-tool', 'tool', 'Read a.ts',
            '{"kind":"read","toolCallId":"call-7","toolStatus":"completed"}', null),
           (${session}, ${project}, ${owner}, 'old-bad-status', 'tool', 'x', '{"toolCallId":"call-8","toolStatus":"done"}', null),
           (${session}, ${project}, ${owner}, 'old-echo', 'user', 'add a greeting', '{"seq":1}', null),
           (${session}, ${project}, ${owner}, 'initial', 'user', 'add a greeting', null, 'user')`;

  const migrator = postgres(db.url(), { max: 1, onnotice: () => {} });
  try {
    await migrator.begin((tx) => tx.unsafe(readFileSync(MIGRATION, 'utf8')));
  } finally {
    await migrator.end();
  }

  const rows = await db.admin`
    select message_id, role::text, tool_call_id, tool_status::text, tool_metadata, origin
      from public.messages where session_id = ${session} order by id`;
  expect(rows).toEqual([
    {
      message_id: 'old-tool',
      role: 'tool',
      tool_call_id: 'call-7',
      tool_status: 'completed',
      tool_metadata: { kind: 'read' },
      origin: null,
    },
    {
      message_id: 'old-bad-status',
      role: 'tool',
      tool_call_id: 'call-8',
      tool_status: null,
      tool_metadata: {},
      origin: null,
    },
    {
      message_id: 'old-echo',
      role: 'assistant',
      tool_call_id: null,
      tool_status: null,
      tool_metadata: { seq: 1, echo: 'user' },
      origin: null,
    },
    // SAM's own record of the user's message stays theirs.
    { message_id: 'initial', role: 'user', tool_call_id: null, tool_status: null, tool_metadata: null, origin: 'user' },
  ]);
});
