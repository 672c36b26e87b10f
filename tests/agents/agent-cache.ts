import { homedir } from 'node:os';
import path from 'node:path';

/**
 * Where tests install the real agent packages: outside the repository (git status stays clean) and
 * kept between runs on the same machine, so only the first run pays for the download.
 */
export const AGENT_CACHE = process.env.SAM_AGENT_CACHE ?? path.join(homedir(), '.cache', 'sam', 'agents');
