// Before probing, the sidecar must have the configuration the scenario set up: this reads
// the listeners and the LDS version out of a config_dump (Envoy's admin output, v2 or v3,
// snake_case or camelCase) and polls until every expected listener is there. The version it
// saw goes into the report, so a run says which configuration it probed.

export interface ListenerSnapshot {
  /** The ListenersConfigDump's version_info (the last LDS version Envoy accepted), if any. */
  versionInfo?: string;
  /** Names of static and active dynamic listeners, in dump order. */
  names: string[];
  /** Listeners and clusters Envoy is still warming (not serving yet). */
  warming: string[];
  /** The ClustersConfigDump's version_info (the last CDS version Envoy accepted), if any. */
  clustersVersionInfo?: string;
}

type Obj = Record<string, unknown>;
const get = (o: unknown, ...keys: string[]): unknown => {
  for (const k of keys) if (o && typeof o === 'object' && k in (o as Obj)) return (o as Obj)[k];
  return undefined;
};

export function listenerSnapshot(configDump: unknown): ListenerSnapshot {
  const configs = get(configDump, 'configs');
  if (!Array.isArray(configs)) throw new Error('not an Envoy config_dump: no "configs" list');
  const ccd = configs.find((c) => String(get(c, '@type') ?? '').endsWith('.ClustersConfigDump'));
  const cv = get(ccd, 'version_info', 'versionInfo');
  const warming = ((get(ccd, 'dynamic_warming_clusters', 'dynamicWarmingClusters') as unknown[] | undefined) ?? []).map((c) => String(get(get(c, 'cluster'), 'name')));
  const clusters = typeof cv === 'string' ? { clustersVersionInfo: cv } : {};
  const lcd = configs.find((c) => String(get(c, '@type') ?? '').endsWith('.ListenersConfigDump'));
  if (!lcd) return { names: [], warming, ...clusters };
  const names: string[] = [];
  for (const s of (get(lcd, 'static_listeners', 'staticListeners') as unknown[] | undefined) ?? []) {
    const n = get(get(s, 'listener'), 'name');
    if (typeof n === 'string') names.push(n);
  }
  for (const d of (get(lcd, 'dynamic_listeners', 'dynamicListeners') as unknown[] | undefined) ?? []) {
    const n = get(get(get(d, 'active_state', 'activeState'), 'listener'), 'name') ?? get(d, 'name');
    if (typeof n === 'string' && get(d, 'active_state', 'activeState') !== undefined) names.push(n);
    if (get(d, 'warming_state', 'warmingState') !== undefined) warming.push(String(get(d, 'name')));
  }
  const v = get(lcd, 'version_info', 'versionInfo');
  return { names, warming, ...(typeof v === 'string' ? { versionInfo: v } : {}), ...clusters };
}

export interface WaitResult {
  ok: boolean;
  snapshot: ListenerSnapshot;
  missing: string[];
  polls: number;
}

/**
 * Polls `fetchDump` (a config_dump: its JSON text, or already parsed) until every
 * name in `expected` is an active listener, or the time is up. Listeners that must be absent
 * (a fix that removes one) go in `absent`. With `changedFrom`, the LDS version must also differ
 * from that one: a change that renames no listener (a catch-all's cluster) shows only there.
 */
export async function waitForListeners(
  fetchDump: () => Promise<unknown>,
  want: { expected: readonly string[]; absent?: readonly string[]; changedFrom?: string },
  opts: { timeoutMs?: number; intervalMs?: number; sleep?: (ms: number) => Promise<void>; now?: () => number } = {},
): Promise<WaitResult> {
  const timeout = opts.timeoutMs ?? 60_000;
  const interval = opts.intervalMs ?? 1000;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = opts.now ?? (() => performance.now());
  const end = now() + timeout;
  let polls = 0;
  for (;;) {
    polls++;
    const raw = await fetchDump();
    const snapshot = listenerSnapshot(typeof raw === 'string' ? JSON.parse(raw) : raw);
    const have = new Set(snapshot.names);
    const missing = [...want.expected.filter((n) => !have.has(n)), ...(want.absent ?? []).filter((n) => have.has(n)).map((n) => `!${n}`)];
    if (want.changedFrom !== undefined && snapshot.versionInfo === want.changedFrom) missing.push(`a version other than ${want.changedFrom}`);
    if (missing.length === 0 || now() >= end) return { ok: missing.length === 0, snapshot, missing, polls };
    await sleep(interval);
  }
}
