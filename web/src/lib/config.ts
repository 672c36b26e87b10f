/** Where the app finds Supabase: Vite env at build time, else `/config.json` next to the bundle. */
export interface AppConfig {
  supabaseUrl: string;
  publishableKey: string;
}

export async function loadConfig(): Promise<AppConfig> {
  const url = import.meta.env.VITE_SUPABASE_URL as string | undefined;
  const key = import.meta.env.VITE_SUPABASE_PUBLISHABLE_KEY as string | undefined;
  if (url && key) return { supabaseUrl: url, publishableKey: key };
  const res = await fetch('/config.json', { cache: 'no-store' });
  if (!res.ok) throw new Error('No Supabase configuration: set VITE_SUPABASE_URL or serve /config.json');
  const body = (await res.json()) as Partial<AppConfig>;
  if (!body.supabaseUrl || !body.publishableKey) {
    throw new Error('/config.json needs supabaseUrl and publishableKey');
  }
  return { supabaseUrl: body.supabaseUrl, publishableKey: body.publishableKey };
}
