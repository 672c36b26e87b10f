import { HttpError } from '../../http-error.ts';
import { defineTool } from '../tool.ts';

/** An idea is a task that has not started: `draft` (exploring) or `ready`. */
function describeIdea(r: Record<string, unknown>) {
  return {
    ideaId: r.id,
    title: r.title,
    content: r.description,
    status: r.status,
    priority: r.priority,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export const createIdea = defineTool({
  name: 'create_idea',
  description: 'Record an idea for later work in this project (a task in draft). It appears on the ideas board.',
  async run(ctx, input) {
    const [row] =
      await ctx.tx`select public.create_idea(${input.title}, ${input.content ?? ''}, ${input.priority ?? 0}) as id`;
    const [idea] = await ctx.tx`select * from public.tasks where id = ${row!.id as string}`;
    return describeIdea(idea!);
  },
});

export const updateIdea = defineTool({
  name: 'update_idea',
  description:
    'Edit an idea (title, content, append text, priority) or move it: draft → ready | cancelled; ready → draft | completed | cancelled.',
  async run(ctx, input) {
    const [row] = await ctx.tx`
      select public.update_idea(${input.ideaId}::uuid, ${ctx.tx.json({
        title: input.title,
        content: input.content,
        append: input.append,
        priority: input.priority,
        status: input.status,
      })}) as changed`;
    const [idea] = await ctx.tx`select * from public.tasks where id = ${input.ideaId}`;
    return { ...describeIdea(idea!), changed: row!.changed };
  },
});

export const listIdeas = defineTool({
  name: 'list_ideas',
  description: 'Ideas in this project (draft and ready), highest priority first.',
  async run(ctx, input) {
    const rows = await ctx.tx`
      select * from public.tasks
      where project_id = public.current_agent_project_id() and status in ('draft', 'ready')
      order by priority desc, created_at desc limit ${input.limit ?? 20}`;
    return { ideas: rows.map(describeIdea) };
  },
});

export const getIdea = defineTool({
  name: 'get_idea',
  description: 'One idea with its full content.',
  async run(ctx, input) {
    const [idea] = await ctx.tx`
      select * from public.tasks where id = ${input.ideaId} and project_id = public.current_agent_project_id()`;
    if (!idea) throw new HttpError(404, 'not_found', `No idea ${input.ideaId} in this project`);
    return describeIdea(idea);
  },
});

export const searchIdeas = defineTool({
  name: 'search_ideas',
  description: "Full-text search over this project's ideas and tasks (title and content), best matches first.",
  async run(ctx, input) {
    const rows = await ctx.tx`
      select t.*, ts_rank(t.search, q) as rank
      from public.tasks t, websearch_to_tsquery('english', ${input.query}) q
      where t.project_id = public.current_agent_project_id() and t.search @@ q
      order by rank desc, t.created_at desc limit ${input.limit ?? 10}`;
    return { ideas: rows.map((r) => ({ ...describeIdea(r), rank: Number(r.rank) })) };
  },
});
