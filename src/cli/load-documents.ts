// Reading the files the Envoy commands take: config dumps (JSON, or YAML from `-o yaml`),
// mesh files and extra resource files (YAML, possibly several documents).
import { readInputFile } from './io.ts';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { CliError, EXIT_BAD_INPUT } from './exit-codes.ts';
import { ConfigDumpError, parseConfigDump } from '../mesh/envoy/config-dump-parser.ts';
import type { EnvoyConfig } from '../mesh/envoy/envoy-config.ts';
import { MeshError, parseMesh } from '../mesh/envoy/mesh.ts';
import { synthesizeSidecar } from '../mesh/envoy/synthesize-sidecar.ts';

export function readText(file: string): string {
  try {
    return readInputFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(`${file}: cannot read it (${code ?? (e as Error).message})`, EXIT_BAD_INPUT);
  }
}

/** Decodes JSON (fast path) or YAML. */
export function decode(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    try {
      return parseYaml(text, { maxAliasCount: -1 });
    } catch (e) {
      throw new CliError(`${file}: neither JSON nor YAML (${(e as Error).message.split('\n')[0]})`, EXIT_BAD_INPUT);
    }
  }
}

export function loadConfigDump(file: string): { doc: unknown; config: EnvoyConfig } {
  return configDumpFromText(file, readText(file));
}

/** A config dump's text, already read (`name` says where it came from in messages). */
export function configDumpFromText(file: string, text: string): { doc: unknown; config: EnvoyConfig } {
  const doc = decode(file, text);
  try {
    return { doc, config: parseConfigDump(doc) };
  } catch (e) {
    if (e instanceof ConfigDumpError) throw new CliError(`${file}: ${e.message}`, EXIT_BAD_INPUT);
    throw e;
  }
}

/** Every YAML document of a file, empty ones skipped; a YAML list at top level is spread. */
export function loadYamlDocuments(file: string): unknown[] {
  const docs = parseAllDocuments(readText(file));
  const out: unknown[] = [];
  for (const d of docs) {
    if (d.errors.length > 0) {
      throw new CliError(`${file}: ${d.errors.map((e) => e.message.split('\n')[0]).join('; ')}`, EXIT_BAD_INPUT);
    }
    const v: unknown = d.toJS();
    if (v === null || v === undefined) continue;
    if (Array.isArray(v)) out.push(...(v as unknown[]));
    else out.push(v);
  }
  return out;
}

export interface MeshOverrides {
  /** Extra resource files (YAML, several documents) appended to the mesh's resources. */
  resources?: string[];
  era?: string;
  outboundTrafficPolicy?: string;
}

/** Reads a pathlab/v1 Mesh file, applies the overrides, synthesizes the sidecar's config dump. */
export function loadMeshFile(
  file: string,
  overrides: MeshOverrides = {},
): { doc: Record<string, unknown>; config: EnvoyConfig; podIp: string; era: 'current' | 'legacy'; warnings: string[] } {
  const doc = decode(file, readText(file));
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new CliError(`${file}: not a pathlab/v1 Mesh (expected a mapping with apiVersion: pathlab/v1, kind: Mesh)`, EXIT_BAD_INPUT);
  }
  const base = doc as Record<string, unknown>;
  const extra = (overrides.resources ?? []).flatMap(loadYamlDocuments);
  const merged: Record<string, unknown> = { ...base, resources: [...((base.resources as unknown[] | undefined) ?? []), ...extra] };
  if (overrides.era) merged.era = overrides.era;
  if (overrides.outboundTrafficPolicy) {
    merged.meshConfig = { ...((base.meshConfig as Record<string, unknown> | undefined) ?? {}), outboundTrafficPolicy: { mode: overrides.outboundTrafficPolicy } };
  }
  try {
    const mesh = parseMesh(merged);
    const syn = synthesizeSidecar(mesh);
    return { doc: syn.configDump, config: parseConfigDump(syn.configDump), podIp: mesh.proxy.ip, era: mesh.era, warnings: syn.warnings };
  } catch (e) {
    if (e instanceof MeshError) throw new CliError(`${file}: ${e.message}`, EXIT_BAD_INPUT);
    throw e;
  }
}
