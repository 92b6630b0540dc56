import { parseMesh, type MeshInput } from '../../src/mesh/envoy/mesh.ts';
import { synthesizeSidecar } from '../../src/mesh/envoy/synthesize-sidecar.ts';
import { parseConfigDump } from '../../src/mesh/envoy/config-dump-parser.ts';
import type { EnvoyConfig } from '../../src/mesh/envoy/envoy-config.ts';
import { repoYaml } from './fixtures.ts';

/** The seed 003 incident mesh (labs/incident-7000/mesh.yaml) with changes applied. */
export function incidentMesh(change: { era?: 'current' | 'legacy'; mode?: 'ALLOW_ANY' | 'REGISTRY_ONLY'; add?: string[] } = {}): MeshInput {
  const base = repoYaml('labs/incident-7000/mesh.yaml') as MeshInput;
  return {
    ...base,
    ...(change.era ? { era: change.era } : {}),
    ...(change.mode ? { meshConfig: { outboundTrafficPolicy: { mode: change.mode } } } : {}),
    resources: [...(base.resources ?? []), ...(change.add ?? []).map((f) => repoYaml(`labs/incident-7000/${f}`) as NonNullable<MeshInput['resources']>[number])],
  };
}

export function synthesize(mesh: MeshInput): EnvoyConfig {
  return parseConfigDump(synthesizeSidecar(parseMesh(mesh)).configDump);
}
