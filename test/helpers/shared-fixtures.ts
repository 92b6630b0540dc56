// Where the shared, read-only fixtures live: ../shared/fixtures beside the repository root.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const FIXTURES = join(REPO_ROOT, '..', 'shared', 'fixtures');

/** A path under ../shared (seeds, notes, fixtures). */
export function sharedPath(...parts: string[]): string {
  return join(REPO_ROOT, '..', 'shared', ...parts);
}

export function readFixture(...parts: string[]): string {
  return readFileSync(join(FIXTURES, ...parts), 'utf8');
}

export interface GoldenCase {
  name: string;
  config: Record<string, unknown>;
  effective_config: Record<string, unknown>;
  ipv6_enabled: boolean;
  golden_parts: { v4_restore: string; v6_restore?: string };
  iptables_save_after_restore: { v4_nft?: string; v6_nft?: string };
}
export interface HistoricalCase {
  name: string;
  config: Record<string, unknown>;
  golden: string;
}
export interface Goldens {
  base_config_effective: Record<string, unknown>;
  cases: GoldenCase[];
  historical_goldens: { tags: Record<string, { golden_format: string; cases: HistoricalCase[] }> };
  istio_1_2_5_script_run: { args: string[]; v4_nft: string; v6_nft: string };
}

let cached: Goldens | undefined;
export function goldens(): Goldens {
  cached ??= JSON.parse(readFixture('istio-iptables', 'goldens.json')) as Goldens;
  return cached;
}
