import type { Command } from 'commander';
import { formatData, outputFormat } from '../output.ts';
import type { CliContext } from '../context.ts';
import { CliError, EXIT_BAD_INPUT } from '../exit-codes.ts';
import { loadConfigDump, loadMeshFile } from '../load-documents.ts';
import type { EnvoyConfig } from '../../mesh/envoy/envoy-config.ts';
import {
  formatAll,
  formatBootstrap,
  formatClusters,
  formatEndpoints,
  formatListeners,
  formatRoutes,
  formatSecrets,
} from '../../mesh/envoy/proxy-config-tables.ts';

type Section = 'listeners' | 'clusters' | 'routes' | 'endpoints' | 'secrets' | 'bootstrap' | 'all';

const ALIASES: Record<string, Section> = {
  listener: 'listeners',
  listeners: 'listeners',
  l: 'listeners',
  cluster: 'clusters',
  clusters: 'clusters',
  c: 'clusters',
  route: 'routes',
  routes: 'routes',
  r: 'routes',
  endpoint: 'endpoints',
  endpoints: 'endpoints',
  ep: 'endpoints',
  secret: 'secrets',
  secrets: 'secrets',
  bootstrap: 'bootstrap',
  all: 'all',
};

const SECTION_OF: Partial<Record<Section, keyof EnvoyConfig>> = {
  listeners: 'listeners',
  clusters: 'clusters',
  routes: 'routes',
  endpoints: 'endpoints',
  secrets: 'secrets',
  bootstrap: 'bootstrap',
};

/** The raw resources istioctl prints with `-o json` for one section of a dump. */
function rawSection(doc: unknown, section: Section): unknown {
  if (section === 'all' || !(typeof doc === 'object' && doc !== null && 'configs' in doc)) return doc;
  const configs = (doc as { configs: unknown }).configs;
  if (!Array.isArray(configs)) return doc;
  const want: Record<string, [string, string][]> = {
    listeners: [['dynamic_listeners', 'active_state.listener'], ['dynamicListeners', 'activeState.listener'], ['static_listeners', 'listener'], ['staticListeners', 'listener']],
    clusters: [['dynamic_active_clusters', 'cluster'], ['dynamicActiveClusters', 'cluster'], ['static_clusters', 'cluster'], ['staticClusters', 'cluster']],
    routes: [['dynamic_route_configs', 'route_config'], ['dynamicRouteConfigs', 'routeConfig'], ['static_route_configs', 'route_config'], ['staticRouteConfigs', 'routeConfig']],
    endpoints: [['dynamic_endpoint_configs', 'endpoint_config'], ['dynamicEndpointConfigs', 'endpointConfig'], ['static_endpoint_configs', 'endpoint_config'], ['staticEndpointConfigs', 'endpointConfig']],
    secrets: [['dynamic_active_secrets', 'secret'], ['dynamicActiveSecrets', 'secret']],
    bootstrap: [],
  };
  if (section === 'bootstrap') {
    return configs.find((c) => String((c as Record<string, unknown>)['@type']).endsWith('BootstrapConfigDump'));
  }
  const out: unknown[] = [];
  for (const c of configs as Array<Record<string, unknown>>) {
    for (const [list, path] of want[section] ?? []) {
      const items = c[list];
      if (!Array.isArray(items)) continue;
      for (const item of items) {
        let v: unknown = item;
        for (const k of path.split('.')) v = (v as Record<string, unknown> | undefined)?.[k];
        if (v !== undefined) out.push(v);
      }
    }
  }
  return out;
}

export function registerProxyConfig(program: Command, ctx: CliContext): void {
  program
    .command('proxy-config')
    .description("print a config dump's listeners, clusters, routes, endpoints, secrets or all of them, as istioctl proxy-config does")
    .argument('<type>', 'listeners | clusters | routes | endpoints | secrets | bootstrap | all')
    .argument('[dump]', 'an Envoy config dump: admin /config_dump, or istioctl proxy-config ... -o json')
    .option('-o, --output <format>', 'short (tables, the default), json (the raw section, as istioctl) or yaml', 'short')
    .option('--mesh <file>', 'instead of a dump: the config pathlab synthesizes from a pathlab/v1 Mesh file')
    .option('--resources <file>', 'with --mesh: extra Kubernetes/Istio resources; repeatable', (v: string, p: string[]) => [...p, v], [] as string[])
    .option('--era <era>', 'with --mesh: current (Istio 1.6+) or legacy (1.3-1.5)')
    .option('--outbound-traffic-policy <mode>', 'with --mesh: ALLOW_ANY or REGISTRY_ONLY')
    .action((type: string, dump: string | undefined, opts: { output: string; mesh?: string; resources: string[]; era?: string; outboundTrafficPolicy?: string }) => {
      const section = ALIASES[type.toLowerCase()];
      if (!section) {
        throw new CliError(`unknown type "${type}" (expected listeners, clusters, routes, endpoints, secrets, bootstrap or all)`, EXIT_BAD_INPUT);
      }
      const output = outputFormat(opts, 'short');
      if ((dump === undefined) === (opts.mesh === undefined)) {
        throw new CliError('give a DUMP file or --mesh FILE (exactly one)', EXIT_BAD_INPUT);
      }
      const source = dump ?? opts.mesh!;
      const { doc, config } = opts.mesh
        ? loadMeshFile(opts.mesh, { resources: opts.resources, ...(opts.era ? { era: opts.era } : {}), ...(opts.outboundTrafficPolicy ? { outboundTrafficPolicy: opts.outboundTrafficPolicy } : {}) })
        : loadConfigDump(dump!);
      const key = SECTION_OF[section];
      if (key && config[key] === undefined) {
        throw new CliError(`${source}: no ${section} in this dump (its configs[] has no ${key[0]!.toUpperCase()}${key.slice(1)}ConfigDump section)`, EXIT_BAD_INPUT);
      }
      if (output === 'json') {
        // istioctl's indent: four spaces.
        ctx.io.out(`${JSON.stringify(rawSection(doc, section), null, 4)}\n`);
        return;
      }
      if (output === 'yaml') {
        ctx.io.out(formatData('yaml', rawSection(doc, section)));
        return;
      }
      const text = {
        listeners: () => formatListeners(config),
        clusters: () => formatClusters(config),
        routes: () => formatRoutes(config),
        endpoints: () => formatEndpoints(config),
        secrets: () => formatSecrets(config),
        bootstrap: () => formatBootstrap(config),
        all: () => formatAll(config),
      }[section]();
      ctx.io.out(text);
    });
}
