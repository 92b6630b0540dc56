// The netns lab as a plan: which namespaces, links, addresses, routes, kube-proxy-style
// DNAT rules and hosts files a lab definition needs, as exact commands. Pure: the lab
// runs the plan (netns-lab.ts), `--dry-run` prints it, and tests read it without root.
//
// Topology: a "node" namespace holds the bridge br0 and the gateway addresses (the first
// address of the pod and external networks). Every pod and external host is a namespace
// whose eth0 is one end of a veth pair, the other end on br0. Each host address is a /32
// with a default route via its gateway, so all traffic between hosts is routed by the node
// (one conntrack sees both directions, as on a Kubernetes node), and Service VIPs are DNAT
// rules in the node's PREROUTING. No link of the lab is in the host's namespace, so nothing
// in the lab has a route to the host's uplink.
import { cidrContains, numberToIp, parseCidr, reservedAddresses } from '../../scenario/ip.ts';
import type { LabSpec, PodSpec } from '../../scenario/schema.ts';
import { LAB_DEFAULT_NETWORKS } from '../../scenario/cross-checks.ts';

/**
 * Every name a lab creates starts with this, then the lab id: `pl-1a2b3c-…`. PATHLAB_PREFIX
 * (2 to 4 lower-case letters) gives a separate set of labs, e.g. for two CI jobs on one machine:
 * `lab down --all` only removes the labs of its own prefix.
 */
export const LAB_PREFIX = labPrefix(process.env.PATHLAB_PREFIX);

export function labPrefix(env: string | undefined): string {
  if (env === undefined || env === '') return 'pl';
  if (!/^[a-z]{2,4}$/.test(env)) throw new Error(`PATHLAB_PREFIX must be 2 to 4 lower-case letters, got "${env}"`);
  return env;
}
export const BRIDGE = 'br0';

/** The host name that means the lab's node namespace (istiod runs there); no pod may be called so: the namespaces would clash. */
export const NODE_HOST = 'node';

export interface PlannedHost {
  name: string;
  kind: 'pod' | 'external';
  ns: string;
  /** veth end in the node namespace (≤ 15 characters, as the kernel requires). */
  nodeLink: string;
  ip: string;
  gateway: string;
  namespace: string;
  meshed: boolean;
  pod?: PodSpec;
  external?: NonNullable<LabSpec['externalHosts']>[number];
}

export interface PlannedService {
  name: string;
  namespace: string;
  /** The Service's cluster IP; '' for a headless Service (clusterIP: None), which has none. */
  vip: string;
  /** clusterIP: None: no VIP, no kube-proxy rule; its name resolves to its pods' addresses. */
  headless: boolean;
  /** type ExternalName: an alias of this host (no VIP, no endpoints); its name resolves as the host's does. */
  externalName?: string;
  ports: Array<{ port: number; targetPort: number; name?: string; appProtocol?: string }>;
  /** The pods the selector picks (all pods named after the service when no selector). */
  endpoints: string[];
}

export interface PlanStep {
  /** What the step does, for --dry-run and errors. */
  what: string;
  argv: string[];
  input?: string;
}

export interface PlannedFile {
  path: string;
  content: string;
}

export interface LabPlan {
  id: string;
  nodeNs: string;
  hosts: PlannedHost[];
  services: PlannedService[];
  files: PlannedFile[];
  steps: PlanStep[];
  /** The namespaces in creation order (node first); teardown deletes them in reverse. */
  namespaces: string[];
}

export const labNs = (id: string, name: string) => `${LAB_PREFIX}-${id}-${name}`;
export const nodeNsName = (id: string) => labNs(id, 'node');
export const NETNS_ETC = '/etc/netns';

export function planLab(spec: LabSpec, id: string): LabPlan {
  const net = { ...LAB_DEFAULT_NETWORKS, ...spec.network };
  const podNet = parseCidr(net.podCidr)!;
  const extNet = parseCidr(net.externalCidr)!;
  const podGw = numberToIp(podNet.network + 1);
  const extGw = numberToIp(extNet.network + 1);
  const nodeNs = nodeNsName(id);

  const taken = new Set<string>([podGw, extGw]);
  for (const p of spec.pods) if (p.ip) taken.add(p.ip);
  for (const h of spec.externalHosts ?? []) taken.add(h.address);
  for (const s of spec.services ?? []) if (s.clusterIP && s.clusterIP !== 'None') taken.add(s.clusterIP);
  const allocate = (base: number, within: typeof podNet) => {
    const broadcast = reservedAddresses(within).broadcast;
    for (let n = base + 10; ; n++) {
      const ip = numberToIp(n);
      if (!cidrContains(within, ip) || ip === broadcast) throw new Error(`no free address left in ${within.canonical}`);
      if (!taken.has(ip)) {
        taken.add(ip);
        return ip;
      }
    }
  };

  const hosts: PlannedHost[] = [];
  spec.pods.forEach((pod) => {
    hosts.push({
      name: pod.name,
      kind: 'pod',
      ns: labNs(id, pod.name),
      nodeLink: '',
      ip: pod.ip ?? allocate(podNet.network, podNet),
      gateway: podGw,
      namespace: pod.namespace ?? 'default',
      meshed: pod.meshed ?? true,
      pod,
    });
  });
  for (const ext of spec.externalHosts ?? []) {
    hosts.push({
      name: ext.name,
      kind: 'external',
      ns: labNs(id, ext.name),
      nodeLink: '',
      ip: ext.address,
      gateway: extGw,
      namespace: '',
      meshed: false,
      external: ext,
    });
  }
  hosts.forEach((h, i) => (h.nodeLink = `${LAB_PREFIX}${id}h${i}`));

  const services: PlannedService[] = (spec.services ?? []).map((svc) => planService(svc, spec, hosts, taken));

  const namespaces = [nodeNs, ...hosts.map((h) => h.ns)];
  const steps: PlanStep[] = [];
  steps.push({
    what: 'create the namespaces',
    argv: ['ip', '-batch', '-'],
    input: namespaces.map((ns) => `netns add ${ns}\n`).join(''),
  });
  const nodeBatch = [
    'link set lo up',
    `link add ${BRIDGE} type bridge`,
    `link set ${BRIDGE} up`,
    `addr add ${podGw}/${podNet.prefix} dev ${BRIDGE}`,
    `addr add ${extGw}/${extNet.prefix} dev ${BRIDGE}`,
    ...hosts.flatMap((h) => [
      `link add ${h.nodeLink} type veth peer name eth0 netns ${h.ns}`,
      `link set ${h.nodeLink} master ${BRIDGE}`,
      `link set ${h.nodeLink} up`,
    ]),
    // A host outside both lab networks (a capture's, at its captured address) is on the bridge all the same.
    ...hosts.filter((h) => !cidrContains(podNet, h.ip) && !cidrContains(extNet, h.ip)).map((h) => `route add ${h.ip}/32 dev ${BRIDGE}`),
  ];
  steps.push({ what: 'node: bridge, gateways and one veth per host', argv: ['ip', '-n', nodeNs, '-batch', '-'], input: lines(nodeBatch) });
  steps.push({
    what: 'node: route between the lab networks (this namespace only), no ICMP redirects',
    argv: [
      'ip', 'netns', 'exec', nodeNs, 'sysctl', '-q', '-w',
      'net.ipv4.ip_forward=1',
      'net.ipv4.conf.all.send_redirects=0',
      `net.ipv4.conf.${BRIDGE}.send_redirects=0`,
    ],
  });
  for (const h of hosts) {
    steps.push({
      what: `${h.name}: eth0 ${h.ip}/32, default via ${h.gateway}`,
      argv: ['ip', '-n', h.ns, '-batch', '-'],
      input: lines([
        'link set lo up',
        'link set eth0 up',
        `addr add ${h.ip}/32 dev eth0`,
        `route add ${h.gateway} dev eth0 scope link`,
        `route add default via ${h.gateway} dev eth0`,
      ]),
    });
  }
  const dnat = serviceDnatRules(services, hosts);
  if (dnat.length > 0) {
    steps.push({
      what: 'node: Service VIPs, as kube-proxy does (DNAT to the endpoints)',
      argv: ['ip', 'netns', 'exec', nodeNs, 'iptables-restore', '--noflush'],
      input: lines(['*nat', ...dnat, 'COMMIT']),
    });
  }

  const files: PlannedFile[] = [];
  for (const h of hosts) {
    files.push({ path: `${NETNS_ETC}/${h.ns}/hosts`, content: hostsFile(h, hosts, services) });
    files.push({ path: `${NETNS_ETC}/${h.ns}/resolv.conf`, content: '# pathlab lab: names come from the hosts file\noptions ndots:1\n' });
  }
  return { id, nodeNs, hosts, services, files, steps, namespaces };
}

export interface ServiceRef {
  name: string;
  namespace?: string;
  clusterIP?: string;
  externalName?: string;
  selector?: Record<string, string>;
  ports: Array<{ port: number; name?: string; targetPort?: number; appProtocol?: string }>;
}

/**
 * A Service of the lab: its VIP (given, or the next free address of the service network;
 * `taken` is updated) and its endpoints, the pods of its namespace its selector picks (without a
 * selector: the pods named after it, as `<name>` or `<name>-…`).
 */
export function planService(svc: ServiceRef, spec: LabSpec, hosts: PlannedHost[], taken: Set<string>): PlannedService {
  const ns = svc.namespace ?? 'default';
  const selector = svc.selector;
  const endpoints = hosts
    .filter((h) => h.kind === 'pod' && h.namespace === ns)
    .filter((h) =>
      selector
        ? Object.entries(selector).every(([k, v]) => (h.pod?.labels ?? { app: h.name })[k] === v)
        : h.name === svc.name || h.name.startsWith(`${svc.name}-`),
    )
    .map((h) => h.name);
  const headless = svc.clusterIP === 'None';
  const alias = svc.externalName !== undefined;
  let vip = svc.clusterIP && !headless ? svc.clusterIP : undefined;
  if (vip === undefined && !headless && !alias) {
    const net = parseCidr(spec.network?.serviceCidr ?? LAB_DEFAULT_NETWORKS.serviceCidr)!;
    for (let n = net.network + 10; ; n++) {
      const ip = numberToIp(n);
      if (!cidrContains(net, ip)) throw new Error(`no free address left in ${net.canonical}`);
      if (!taken.has(ip)) {
        vip = ip;
        break;
      }
    }
  }
  if (vip !== undefined) taken.add(vip);
  return {
    name: svc.name,
    namespace: ns,
    vip: vip ?? '',
    headless,
    ...(alias ? { externalName: svc.externalName! } : {}),
    ports: svc.ports.map((p) => ({
      port: p.port,
      targetPort: p.targetPort ?? p.port,
      ...(p.name === undefined ? {} : { name: p.name }),
      ...(p.appProtocol === undefined ? {} : { appProtocol: p.appProtocol }),
    })),
    endpoints: alias ? [] : endpoints,
  };
}

function lines(ls: string[]): string {
  return ls.map((l) => `${l}\n`).join('');
}

/** nat PREROUTING rules that send VIP:port to the endpoints, spread evenly as kube-proxy does. */
export function serviceDnatRules(services: PlannedService[], hosts: PlannedHost[]): string[] {
  const ipOf = new Map(hosts.map((h) => [h.name, h.ip]));
  const rules: string[] = [];
  for (const svc of services) {
    if (svc.headless) continue; // no VIP: clients dial the pods
    if (svc.externalName !== undefined) continue; // an alias: DNS, not kube-proxy
    const eps = svc.endpoints.map((e) => ipOf.get(e)).filter((ip): ip is string => ip !== undefined);
    for (const p of svc.ports) {
      const match = `-A PREROUTING -d ${svc.vip}/32 -p tcp -m tcp --dport ${p.port}`;
      const comment = `-m comment --comment "${svc.namespace}/${svc.name}:${p.port}"`;
      // A Service with no endpoints gets no rule: its VIP is not routed, as with kube-proxy
      // the connection fails (here: no route, so the SYN is dropped at the node).
      eps.forEach((ip, i) => {
        const left = eps.length - i;
        const pick = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(5)}` : '';
        rules.push(`${match} ${comment}${pick} -j DNAT --to-destination ${ip}:${p.targetPort}`);
      });
    }
  }
  return rules;
}

/** A Service's qualified DNS names: `name.ns.svc.cluster.local`, `name.ns.svc`, `name.ns`. */
export function serviceNames(s: Pick<PlannedService, 'name' | 'namespace'>): string[] {
  return [`${s.name}.${s.namespace}.svc.cluster.local`, `${s.name}.${s.namespace}.svc`, `${s.name}.${s.namespace}`];
}

/**
 * The address a Service's name resolves to in the lab: its VIP; a headless Service's first pod
 * (cluster DNS answers with all of them); an ExternalName's target followed (a lab Service's VIP,
 * or a lab host's address). undefined when it resolves to nothing.
 */
export function serviceAddress(s: PlannedService, hosts: readonly PlannedHost[], services: readonly PlannedService[]): string | undefined {
  if (s.headless) return hosts.find((h) => h.name === s.endpoints[0])?.ip;
  if (s.externalName === undefined) return s.vip || undefined;
  const target = s.externalName;
  const svc = services.find((t) => t.externalName === undefined && serviceNames(t).includes(target));
  return svc ? svc.vip || undefined : hosts.find((h) => h.name === target)?.ip;
}

/** /etc/hosts of one lab host: itself, the other hosts, and the Services by their DNS names. */
export function hostsFile(self: PlannedHost, hosts: PlannedHost[], services: PlannedService[]): string {
  // A probe whose target is `host: productpage` means the Service (its VIP), as cluster DNS
  // answers, even when a pod of the lab has the same name (Bookinfo's pods do). A name on two
  // lines would not do: getaddrinfo returns every address and sorts them (RFC 6724), which
  // puts the pod's own or same-subnet address first. So a Service's name is its alone.
  const out = ['127.0.0.1 localhost'];
  const taken = new Set<string>();
  for (const s of services) {
    const names = serviceNames(s);
    if (self.kind === 'pod' && self.namespace === s.namespace) names.push(s.name);
    for (const n of names) taken.add(n);
    const address = serviceAddress(s, hosts, services);
    if (address) out.push(`${address} ${names.join(' ')}`);
  }
  for (const h of [self, ...hosts.filter((x) => x !== self)]) if (!taken.has(h.name)) out.push(`${h.ip} ${h.name}`);
  return `# pathlab lab ${self.ns}\n${out.join('\n')}\n`;
}
