// A capture folder (`pathlab capture --out DIR`): capture.yaml, which says what was captured
// from which pod, and the files it lists (config_dump.json, iptables.save, ip6tables.save,
// mesh.yaml). Captures are untrusted input like scenario files: read through the same checked
// reader (a regular file inside the folder, at most its size limit), each file parsed, and a
// capture that holds a private key is refused, since `pathlab capture` redacts every one.
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { privateKeyIn } from '../mesh/envoy/redact.ts';
import { readChecked, UnreadableFile } from './files.ts';

export const CAPTURE_VERSION = 'pathlab/v1';
export const CAPTURE_FILES = {
  manifest: 'capture.yaml',
  configDump: 'config_dump.json',
  iptables: 'iptables.save',
  ip6tables: 'ip6tables.save',
  mesh: 'mesh.yaml',
} as const;

/** A config dump with endpoints may be large (a big mesh); rules and the manifest are small. */
export const CAPTURE_LIMITS: Readonly<Record<string, number>> = {
  [CAPTURE_FILES.manifest]: 1024 * 1024,
  [CAPTURE_FILES.configDump]: 64 * 1024 * 1024,
  [CAPTURE_FILES.iptables]: 4 * 1024 * 1024,
  [CAPTURE_FILES.ip6tables]: 4 * 1024 * 1024,
  [CAPTURE_FILES.mesh]: 1024 * 1024,
};

const stringMap = z.record(z.string(), z.string());

/**
 * What a capture's connection (--to) sends, and what a drafted replay probe sends: enough bytes
 * for tls_inspector to decide (a TLS record header is 5), as redis-cli's first command would.
 */
export const CAPTURE_PROBE_PAYLOAD = 'PING\r\n';

export const CaptureSchema = z.strictObject({
  apiVersion: z.literal(CAPTURE_VERSION),
  kind: z.literal('Capture'),
  metadata: z.strictObject({ name: z.string().min(1).max(63), capturedAt: z.string(), context: z.string() }),
  pod: z.strictObject({
    namespace: z.string().min(1),
    name: z.string().min(1),
    ip: z.string().optional(),
    node: z.string().optional(),
    labels: stringMap,
    annotations: stringMap,
    istioInitArgs: z.array(z.string()).optional(),
  }),
  versions: z.strictObject({ istio: z.string(), envoy: z.string() }),
  files: z.array(z.enum(Object.values(CAPTURE_FILES) as [string, ...string[]])),
  notes: z.array(z.string()),
  probe: z
    .strictObject({
      to: z.string(),
      argv: z.array(z.string()),
      payload: z.string().optional(),
      exitCode: z.number().int(),
      output: z.string(),
      conntrack: z.string(),
      accessLog: z.array(z.string()),
    })
    .optional(),
});
export type CaptureManifest = z.infer<typeof CaptureSchema>;

export interface LoadedCapture {
  dir: string;
  manifest: CaptureManifest;
  /** The text of each file the manifest lists, by name. */
  files: Record<string, string>;
  /** The parsed config dump, when captured. */
  configDump?: unknown;
}

/** A capture folder that cannot be used: each problem says which file and what is wrong. */
export class CaptureLoadError extends Error {
  override name = 'CaptureLoadError';
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

function read(dir: string, name: string, problems: string[]): string | undefined {
  try {
    return readChecked(join(dir, name), { folder: dir, max: CAPTURE_LIMITS[name] ?? 1024 * 1024 }).toString('utf8');
  } catch (e) {
    problems.push(`${join(dir, name)}: ${e instanceof UnreadableFile ? e.message : (e as Error).message}`);
    return undefined;
  }
}

/** Reads and checks a capture folder; throws CaptureLoadError with every problem found. */
export function loadCapture(dir: string): LoadedCapture {
  const problems: string[] = [];
  const text = read(dir, CAPTURE_FILES.manifest, problems);
  if (text === undefined) throw new CaptureLoadError(problems);
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 100 });
  } catch (e) {
    throw new CaptureLoadError([`${join(dir, CAPTURE_FILES.manifest)}: not YAML: ${(e as Error).message}`]);
  }
  const m = CaptureSchema.safeParse(doc);
  if (!m.success) throw new CaptureLoadError(m.error.issues.map((i) => `${join(dir, CAPTURE_FILES.manifest)}: ${i.path.join('.') || '(top)'}: ${i.message}`));
  const files: Record<string, string> = {};
  let configDump: unknown;
  for (const name of m.data.files) {
    const t = read(dir, name, problems);
    if (t === undefined) continue;
    files[name] = t;
    const key = privateKeyIn(t);
    if (key) problems.push(`${join(dir, name)}: holds ${key}; a capture never should (pathlab capture redacts them): remove it before sharing or loading this capture`);
    if (name === CAPTURE_FILES.configDump) {
      try {
        configDump = JSON.parse(t);
      } catch (e) {
        problems.push(`${join(dir, name)}: not JSON: ${(e as Error).message}`);
      }
    }
    if ((name === CAPTURE_FILES.iptables || name === CAPTURE_FILES.ip6tables) && !/^\*(nat|filter|mangle|raw)$/m.test(t)) problems.push(`${join(dir, name)}: not iptables-save output (no *nat, *filter, *mangle or *raw table)`);
  }
  if (problems.length) throw new CaptureLoadError(problems);
  return { dir, manifest: m.data, files, ...(configDump !== undefined ? { configDump } : {}) };
}
