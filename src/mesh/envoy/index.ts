// The Envoy model's public API: what the scenario format, the predictor and the CLI call.
export * from './envoy-config.ts';
export { ConfigDumpError, parseConfigDump } from './config-dump-parser.ts';
export { detectFirstBytes, type Detected, type Payload } from './first-bytes.ts';
export {
  chainLabel,
  findListenerForOriginalDst,
  matchConnection,
  selectFilterChain,
  selectVirtualHost,
  type Connection,
  type EnvoyHop,
  type EnvoyMatch,
  type Outcome,
  type OutcomeKind,
} from './match-connection.ts';
export {
  MeshError,
  MeshResourceSchema,
  MeshSchema,
  meshJsonSchema,
  meshJsonSchemaText,
  MESH_SCHEMA_PATH,
  parseMesh,
  type Mesh,
  type MeshInput,
  type MeshResource,
} from './mesh.ts';
export { envoyConfigFromMesh, synthesizeSidecar, type SynthesisResult } from './synthesize-sidecar.ts';
export { formatEnvoyHop, formatEnvoyPath, parseEnvoyPath, type EnvoyHopLike } from './format-envoy-path.ts';
export {
  explain,
  type ExplainConnection,
  type Explanation,
  type IptablesEffect,
  type IptablesHop,
  type IptablesTrace,
  type PathHop,
} from './explain.ts';
export { kubeServicePortProtocol, listenerProtocol, parseProtocol, type IstioProtocol, type ListenerProtocol } from './service-protocol.ts';
export { formatAll, formatBootstrap, formatClusters, formatEndpoints, formatListeners, formatRoutes, formatSecrets } from './proxy-config-tables.ts';
