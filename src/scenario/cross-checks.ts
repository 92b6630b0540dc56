// Checks that span several fields of a scenario, which JSON Schema cannot express:
// references between sections, uniqueness, addresses inside the lab's networks,
// one-of groups, and the path notation of expected hops.
import { CAPTURE_ANNOTATIONS } from './capture-lab.ts';
import { RE2JS } from 're2js';
import { readNamedFile, UnreadableFile } from './files.ts';
import { parseYamlObjects } from './yaml-objects.ts';
import { ResourceSchema } from './schema.ts';
import { objectProblem } from './k8s-objects.ts';
import { HopSyntaxError, labRefsOf, parseHop } from '../paths/hop.ts';
import { cidrContains, cidrsOverlap, ipToNumber, parseCidr, reservedAddresses, type Cidr } from './ip.ts';
import { INBOUND_CAPTURE_PORT, OUTBOUND_CAPTURE_PORT, PROMETHEUS_PORT, READINESS_PORT, STATUS_PORT } from '../mesh/iptables/constants.ts';
import { istioInitRules } from '../mesh/iptables/istio-init-rules.ts';
import type { FieldPath } from './problems.ts';
import type { LabSpec, Scenario } from './schema.ts';

/** A problem at a field; `offset` points inside a string value, `atKey` at the key itself. */
export interface FieldProblem {
  path: FieldPath;
  message: string;
  offset?: number;
  atKey?: boolean;
}

export const LAB_DEFAULT_NETWORKS = {
  podCidr: '10.64.0.0/16',
  serviceCidr: '10.96.0.0/16',
  externalCidr: '10.0.0.0/24',
} as const;

/** The sidecar's own ports: admin, outbound and inbound capture, agent debug, status, readiness, Prometheus. */
const SIDECAR_PORT_LIST = [15000, OUTBOUND_CAPTURE_PORT, 15004, INBOUND_CAPTURE_PORT, STATUS_PORT, READINESS_PORT, PROMETHEUS_PORT] as const;

/** What istio-init would refuse in these annotations on the lab's Istio version (its own message), if anything. */
function istioInitProblem(lab: LabSpec, annotations: Record<string, string>): string | undefined {
  if (Object.keys(annotations).length === 0) return undefined;
  try {
    istioInitRules(lab.istio.version, annotations);
    return undefined;
  } catch (e) {
    return `istio-init cannot take these annotations: ${(e as Error).message}`;
  }
}

const CONNECTION_TOOLS = new Set(['nc', 'curl', 'tcp', 'http']);
const HTTP_TOOLS = new Set(['curl', 'http']);

/** What the lab section offers the rest of a document: its pods, its names, how to test addresses. */
export interface LabContext {
  podNames: Set<string>;
  /** Every address the lab gives out, and to whom. */
  addresses: Map<string, string>;
  serviceNet: string;
  knownHosts: Set<string>;
  netList: string;
  inside(ip: string, which: 'pod' | 'service' | 'external'): boolean;
}

type Add = (path: FieldPath, message: string, extra?: Partial<FieldProblem>) => void;

/** Checks of a lab section (a scenario's `lab`, or a Lab file's), at `at` in the document. */
export function checkLab(lab: LabSpec, at: FieldPath, addAt: Add): LabContext {
  const add: Add = (path, message, extra) => addAt([...at, ...path.slice(1)], message, extra);

  const net = { ...LAB_DEFAULT_NETWORKS, ...lab.network };
  const nets = {
    pod: parseCidr(net.podCidr),
    service: parseCidr(net.serviceCidr),
    external: parseCidr(net.externalCidr),
  };
  for (const key of ['podCidr', 'serviceCidr', 'externalCidr'] as const) {
    const c = parseCidr(net[key]);
    if (c && c.hostBits) {
      add(['lab', 'network', key], `"${net[key]}" has host bits set (did you mean ${c.canonical}?)`);
    }
  }
  const netList = `pod ${net.podCidr}, service ${net.serviceCidr}, external ${net.externalCidr}`;
  // The networks are apart (the node routes between them), and pod and external networks have
  // room for the node's gateway address and hosts.
  const keys = ['podCidr', 'serviceCidr', 'externalCidr'] as const;
  keys.forEach((a, i) =>
    keys.slice(i + 1).forEach((b) => {
      const [ca, cb] = [nets[a.replace('Cidr', '') as keyof typeof nets], nets[b.replace('Cidr', '') as keyof typeof nets]];
      if (ca && cb && cidrsOverlap(ca, cb)) add(['lab', 'network', b], `${net[b]} overlaps the ${a.replace('Cidr', '')} network ${net[a]}: each network needs addresses of its own`);
    }),
  );
  for (const key of ['podCidr', 'externalCidr'] as const) {
    const c = nets[key.replace('Cidr', '') as 'pod' | 'external'];
    if (c && c.prefix > 30) add(['lab', 'network', key], `a /${c.prefix} network has no room for the node's gateway and a host (at most /30)`);
  }
  // Pods without an ip, and Services without a clusterIP, get addresses from the network's 11th
  // address on, up to the one before its broadcast address.
  const room = (c: Cidr | undefined) => (c ? Math.max(0, 2 ** (32 - c.prefix) - 11) : Infinity);
  const unaddressedPods = lab.pods.filter((p) => p.ip === undefined).length;
  if (unaddressedPods > room(nets.pod)) add(['lab', 'network', 'podCidr'], `${net.podCidr} has room for ${room(nets.pod)} pod(s) without an ip (from its 11th address on); this lab has ${unaddressedPods}`);
  const unaddressedServices = (lab.services ?? []).filter((x) => x.clusterIP === undefined).length;
  if (unaddressedServices > room(nets.service)) add(['lab', 'network', 'serviceCidr'], `${net.serviceCidr} has room for ${room(nets.service)} Service(s) without a clusterIP (from its 11th address on); this lab has ${unaddressedServices}`);
  /** An address a host cannot have: its network's own, the gateway the node takes, the broadcast. */
  const reservedFor = (ip: string, which: 'pod' | 'external'): string | undefined => {
    const c = nets[which];
    if (!c || c.prefix > 30) return undefined;
    const r = reservedAddresses(c);
    return ip === r.gateway ? `the gateway of the ${which} network (the lab's node has it)` : ip === r.network ? `the ${which} network's own address` : ip === r.broadcast ? `the ${which} network's broadcast address` : undefined;
  };
  const checkName = (path: FieldPath, name: string) => {
    if (name === 'node') add(path, 'the name "node" is the lab\'s own (its node namespace): choose another');
  };
  // A network that does not parse is the schema's problem: nothing is said to be outside it.
  const inside = (ip: string, which: keyof typeof nets) => {
    const c = nets[which];
    return c === undefined || cidrContains(c, ip);
  };


  // Pods: unique names, addresses inside the pod network, unique addresses overall.
  const podNames = new Set<string>();
  const addresses = new Map<string, string>();
  lab.pods.forEach((pod, i) => {
    if (podNames.has(pod.name)) add(['lab', 'pods', i, 'name'], `a pod named "${pod.name}" is already defined`);
    podNames.add(pod.name);
    checkName(['lab', 'pods', i, 'name'], pod.name);
    // A meshed pod's certificate has the common name <name>.<namespace>: X.509 allows 64 characters.
    const cn = `${pod.name}.${pod.namespace ?? 'default'}`;
    // A captured pod is as the cluster had it: its name and annotations are the capture's (its certificate's common name is cut to fit; its rules are not rendered).
    const captured = i === 0 && lab.capture !== undefined;
    if (pod.meshed !== false && cn.length > 64 && !captured) add(['lab', 'pods', i, 'name'], `"${cn}" is longer than the 64 characters of a certificate's common name (the pod has a sidecar)`);
    if (pod.meshed !== false) {
      pod.ports?.forEach((p, j) => {
        if ((SIDECAR_PORT_LIST as readonly number[]).includes(p.port)) add(['lab', 'pods', i, 'ports', j, 'port'], `port ${p.port} is the sidecar's own (${SIDECAR_PORT_LIST.join(', ')}): a meshed app cannot listen there`);
      });
    }
    const annotationProblem = captured ? undefined : istioInitProblem(lab, pod.annotations ?? {});
    if (annotationProblem) add(['lab', 'pods', i, 'annotations'], annotationProblem);
    if (pod.ip !== undefined) {
      const why = reservedFor(pod.ip, 'pod');
      if (why) add(['lab', 'pods', i, 'ip'], `${pod.ip} is ${why}`);
      if (!inside(pod.ip, 'pod')) {
        add(['lab', 'pods', i, 'ip'], `${pod.ip} is outside the pod network ${net.podCidr}`);
      }
      claimAddress(addresses, pod.ip, `pod ${pod.name}`, ['lab', 'pods', i, 'ip'], add);
    }
    duplicates(pod.ports?.map((p) => p.port) ?? [], (j, v) =>
      add(['lab', 'pods', i, 'ports', j, 'port'], `port ${v} is listed twice`),
    );
  });

  const hostNames = new Set<string>();
  lab.externalHosts?.forEach((h, i) => {
    if (hostNames.has(h.name) || podNames.has(h.name)) {
      add(['lab', 'externalHosts', i, 'name'], `the name "${h.name}" is already used in this lab`);
    }
    hostNames.add(h.name);
    checkName(['lab', 'externalHosts', i, 'name'], h.name);
    const why = reservedFor(h.address, 'external');
    if (why) add(['lab', 'externalHosts', i, 'address'], `${h.address} is ${why}`);
    // eslint-disable-next-line no-control-regex -- control characters are what is refused
    if (h.password !== undefined && /[\u0000-\u001f\u007f\s]/.test(h.password)) add(['lab', 'externalHosts', i, 'password'], 'a password of control characters or spaces cannot be given to redis');
    // A capture's hosts are at their captured addresses, wherever the cluster had them.
    if (!inside(h.address, 'external') && lab.capture === undefined) {
      add(['lab', 'externalHosts', i, 'address'], `${h.address} is outside the external network ${net.externalCidr}`);
    }
    if ((h.server === 'mtls') !== (h.identity !== undefined)) {
      add(['lab', 'externalHosts', i, h.server === 'mtls' ? 'server' : 'identity'], h.server === 'mtls' ? 'an mtls host needs its identity (spiffe://cluster.local/ns/NS/sa/SA): its certificate carries it' : `only an mtls host has an identity (server is "${h.server}")`);
    }
    claimAddress(addresses, h.address, `external host ${h.name}`, ['lab', 'externalHosts', i, 'address'], add);
    duplicates(h.ports, (j, v) => add(['lab', 'externalHosts', i, 'ports', j], `port ${v} is listed twice`));
    if (h.password !== undefined && h.server !== 'redis') {
      add(['lab', 'externalHosts', i, 'password'], `only a redis server takes a password (server is "${h.server}")`);
    }
  });

  const serviceNames = new Set<string>();
  lab.services?.forEach((svc, i) => {
    const ns = svc.namespace ?? 'default';
    const key = `${svc.name}.${ns}`;
    if (serviceNames.has(key)) add(['lab', 'services', i, 'name'], `a Service "${svc.name}" already exists in namespace ${ns}`);
    serviceNames.add(key);
    if (svc.clusterIP !== undefined && svc.clusterIP !== 'None') {
      if (!inside(svc.clusterIP, 'service')) {
        add(['lab', 'services', i, 'clusterIP'], `${svc.clusterIP} is outside the service network ${net.serviceCidr}`);
      }
      claimAddress(addresses, svc.clusterIP, `Service ${svc.name}`, ['lab', 'services', i, 'clusterIP'], add);
    }
    duplicates(svc.ports.map((p) => p.port), (j, v) => add(['lab', 'services', i, 'ports', j, 'port'], `port ${v} is listed twice`));
  });

  // Names a probe may target: services (short, .ns, FQDN), external hosts, setup ServiceEntry hosts.
  const knownHosts = new Set<string>(hostNames);
  for (const key of serviceNames) {
    const [name, ns] = key.split('.') as [string, string];
    if (ns === 'default') knownHosts.add(name);
    knownHosts.add(key);
    knownHosts.add(`${key}.svc`);
    knownHosts.add(`${key}.svc.cluster.local`);
  }
  return { podNames, addresses, knownHosts, netList, inside, serviceNet: net.serviceCidr };
}

export interface CrossCheckOptions {
  /** The scenario file's folder: what it names is read from there. */
  baseDir: string;
  /** Filled with the text of each file the scenario names, as read and checked here: a run applies exactly this. */
  files?: Map<string, string>;
}

/**
 * A lab from a capture replays the captured pod's rules and configuration as they were: it runs
 * in the netns lab only, only the captured pod has a sidecar, and a setup step can change only
 * what the replay can apply to the captured rules (CAPTURE_ANNOTATIONS); an object applied would
 * need istiod to generate the configuration anew, which a capture is not.
 */
function captureChecks(s: Scenario, add: (path: FieldPath, message: string) => void): void {
  s.metadata.backends.forEach((b, i) => {
    if (b !== 'netns') add(['metadata', 'backends', i], `a lab from a capture (lab.capture) is replayed in the netns lab only, not on ${b}`);
  });
  const captured = s.lab.pods[0]!.name;
  s.lab.pods.slice(1).forEach((p, i) => {
    if (p.meshed) add(['lab', 'pods', i], `${p.name}: beside a captured pod, other pods have no sidecar (meshed: false); only the captured one is replayed`);
  });
  s.setup?.forEach((step, i) => {
    const why = 'a captured configuration is replayed as it was captured, not generated anew';
    if (step.apply || step.applyFile) add(['setup', i], `${why}: an applied object would need istiod; change the capture, or annotate the pod (${CAPTURE_ANNOTATIONS.join(', ')})`);
    if (step.meshConfig) add(['setup', i, 'meshConfig'], `${why}: the mesh config is in the captured listeners already`);
    if (step.annotate) {
      if (step.annotate.pod !== captured) add(['setup', i, 'annotate', 'pod'], `only the captured pod (${captured}) has istio-init rules to change`);
      for (const key of Object.keys(step.annotate.annotations)) {
        if (!(CAPTURE_ANNOTATIONS as readonly string[]).includes(key)) add(['setup', i, 'annotate', 'annotations'], `${key}: the replay applies only ${CAPTURE_ANNOTATIONS.join(', ')} to captured rules`);
      }
    }
  });
}

export function crossCheck(s: Scenario, opts: CrossCheckOptions): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const add = (path: FieldPath, message: string, extra: Partial<FieldProblem> = {}) =>
    problems.push({ path, message, ...extra });
  // Backends named once.
  duplicates(s.metadata.backends, (i, v) => add(['metadata', 'backends', i], `"${v}" is listed twice`));
  const { podNames, addresses, knownHosts, netList, inside, serviceNet } = checkLab(s.lab, ['lab'], add);
  // The kind backend runs one Istio (current) and runs probes as their container's user.
  if (s.metadata.backends.includes('kind')) {
    const at = s.metadata.backends.indexOf('kind');
    if (s.lab.istio.version !== 'current') add(['metadata', 'backends', at], `the kind backend runs current Istio; this lab asks for Istio ${s.lab.istio.version}`);
    s.probes.forEach((probe, i) => {
      if (probe.from.uid !== undefined) add(['probes', i, 'from', 'uid'], 'a probe of a scenario that names kind runs as its container\'s user: from.uid cannot be honoured there');
    });
  }

  if (s.lab.capture !== undefined) captureChecks(s, add);

  s.setup?.forEach((step, i) => {
    const actions = (['apply', 'applyFile', 'annotate', 'meshConfig'] as const).filter((k) => step[k] !== undefined);
    if (actions.length !== 1) {
      add(
        ['setup', i],
        actions.length === 0
          ? 'a setup step needs one action: apply, applyFile, annotate or meshConfig'
          : `a setup step has one action, this one has ${actions.join(' and ')}`,
      );
    }
    if (step.annotate && !podNames.has(step.annotate.pod)) {
      add(['setup', i, 'annotate', 'pod'], `no pod "${step.annotate.pod}" in lab.pods (pods: ${[...podNames].join(', ')})`);
    }
    if (step.annotate) {
      const pod = s.lab.pods.find((p) => p.name === step.annotate!.pod);
      const problem = istioInitProblem(s.lab, { ...(pod?.annotations ?? {}), ...step.annotate.annotations });
      if (problem) add(['setup', i, 'annotate', 'annotations'], problem);
    }
    // Every object the step applies, inline or from its file, goes through the same checks: its
    // envelope (kind, DNS-label names), its schema, and what the lab does with it (a Service's address).
    const applied: Array<{ o: unknown; at: FieldPath; where: string }> = [];
    if (step.applyFile !== undefined) {
      try {
        const text = readNamedFile(opts.baseDir, step.applyFile);
        opts.files?.set(step.applyFile, text);
        const parsed = parseYamlObjects(text);
        if ('problem' in parsed) add(['setup', i, 'applyFile'], `${step.applyFile}: ${parsed.problem}`);
        else parsed.objects.forEach((o, k) => o !== null && applied.push({ o, at: ['setup', i, 'applyFile'], where: `${step.applyFile}, document ${k + 1}: ` }));
      } catch (e) {
        if (!(e instanceof UnreadableFile)) throw e;
        add(['setup', i, 'applyFile'], e.reason === 'missing' ? `no such file: ${step.applyFile} (relative to the scenario file)` : `${step.applyFile} ${e.message}`);
      }
    }
    if (step.apply) applied.push({ o: step.apply, at: ['setup', i, 'apply'], where: '' });
    for (const { o, at, where } of applied) {
      const envelope = ResourceSchema.safeParse(o);
      if (!envelope.success) {
        add(at, `${where}${envelope.error.issues.map((x) => `${x.path.join('.') || '(object)'}: ${x.message}`).join('; ')}`);
        continue;
      }
      const problem = objectProblem(envelope.data);
      if (problem) add(at, `${where}${problem}`);
      const r = envelope.data as { kind: string; metadata: { name: string; namespace?: string }; spec?: { hosts?: unknown; clusterIP?: unknown } };
      if (r.kind === 'ServiceEntry' && Array.isArray(r.spec?.hosts)) {
        for (const h of r.spec.hosts) if (typeof h === 'string') knownHosts.add(h);
      }
      if (r.kind === 'Service') {
        // The Service's address reaches iptables-restore and hosts files: an IPv4 of the service network, given out once.
        const ip = r.spec?.clusterIP;
        const ipAt: FieldPath = where ? at : [...at, 'spec', 'clusterIP'];
        if (ip !== undefined && ip !== 'None') {
          if (typeof ip !== 'string' || ipToNumber(ip) === undefined) add(ipAt, `${where}expected an IPv4 address of the service network, or None`);
          else if (!inside(ip, 'service')) add(ipAt, `${where}${ip} is outside the service network ${serviceNet}`);
          else claimAddress(addresses, ip, `the Service of setup[${i}]`, ipAt, add);
        }
        const ns = r.metadata.namespace ?? 'default';
        if (ns === 'default') knownHosts.add(r.metadata.name);
        knownHosts.add(`${r.metadata.name}.${ns}`);
        knownHosts.add(`${r.metadata.name}.${ns}.svc.cluster.local`);
      }
    }
  });

  /** A `pod/NAME` the lab has no pod for. */
  const noPod = (ref: string) => `${ref}: no pod "${ref.slice(4)}" in lab.pods (pods: ${[...podNames].join(', ')})`;
  const probeNames = new Set<string>();
  s.probes.forEach((probe, i) => {
    const at = (...rest: FieldPath) => ['probes', i, ...rest];
    if (probeNames.has(probe.name)) add(at('name'), `a probe named "${probe.name}" is already defined`);
    probeNames.add(probe.name);
    if (!podNames.has(probe.from.pod)) {
      add(at('from', 'pod'), `no pod "${probe.from.pod}" in lab.pods (pods: ${[...podNames].join(', ')})`);
    }
    const t = probe.target;
    if (CONNECTION_TOOLS.has(probe.tool)) {
      if (!t) {
        add(at('tool'), `tool "${probe.tool}" needs a target (address or host, and port)`);
      } else {
        if ((t.address === undefined) === (t.host === undefined)) {
          add(at('target'), 'give exactly one of address or host');
        }
        if (t.port === undefined && !HTTP_TOOLS.has(probe.tool)) {
          add(at('target'), `tool "${probe.tool}" needs target.port`);
        }
        if (t.path !== undefined && !HTTP_TOOLS.has(probe.tool)) {
          add(at('target', 'path'), `only curl and http probes take a path (tool is "${probe.tool}")`);
        }
        // eslint-disable-next-line no-control-regex -- control characters are what is refused
        if (t.path !== undefined && /[\u0000-\u001f\u007f ]/.test(t.path)) add(at('target', 'path'), 'a path of control characters or spaces is no URL path (write them %-encoded)');
        if (t.address !== undefined && !t.address.startsWith('127.')) {
          // A capture's hosts are at their captured addresses, outside the lab's networks as the cluster had them.
          const capturedHost = s.lab.capture !== undefined && (s.lab.externalHosts ?? []).some((h) => h.address === t.address);
          if (!inside(t.address, 'pod') && !inside(t.address, 'service') && !inside(t.address, 'external') && !capturedHost) {
            add(at('target', 'address'), `${t.address} is outside the lab's networks (${netList}): probes only reach lab hosts`);
          }
        }
        if (t.host !== undefined && t.host.startsWith('pod/')) {
          if (!podNames.has(t.host.slice(4))) add(at('target', 'host'), noPod(t.host));
        } else if (t.host !== undefined && !knownHosts.has(t.host)) {
          add(at('target', 'host'), `unknown host "${t.host}" (known: ${[...knownHosts].sort().join(', ') || 'none'})`);
        }
      }
    } else if (t !== undefined) {
      add(at('target'), `tool "${probe.tool}" takes no target`);
    }
    if (probe.payload !== undefined && HTTP_TOOLS.has(probe.tool)) {
      add(at('payload'), `tool "${probe.tool}" sends an HTTP request; use nc or tcp to send raw bytes`);
    }
    probe.captures?.forEach((c, j) => {
      const kinds = (['tcpdump', 'conntrack'] as const).filter((k) => c[k] !== undefined);
      if (kinds.length !== 1) {
        add(at('captures', j), kinds.length === 0 ? 'a capture needs one of tcpdump, conntrack' : `a capture is one kind, this one has ${kinds.join(' and ')}`);
      }
      if (c.tcpdump?.pod !== undefined && !podNames.has(c.tcpdump.pod)) {
        add(at('captures', j, 'tcpdump', 'pod'), `no pod "${c.tcpdump.pod}" in lab.pods`);
      }
    });
    const e = probe.expect;
    if (e.reply) {
      const forms = (['exact', 'contains', 'pattern', 'none'] as const).filter((k) => e.reply![k] !== undefined);
      if (forms.length !== 1) {
        add(at('expect', 'reply'), forms.length === 0 ? 'give one of exact, contains, pattern, none' : `give one of exact, contains, pattern, none (not ${forms.join(' and ')})`);
      }
      if (e.reply.pattern !== undefined) {
        try {
          RE2JS.compile(e.reply.pattern);
        } catch (err) {
          add(at('expect', 'reply', 'pattern'), `not a valid RE2 regular expression: ${(err as Error).message}`);
        }
      }
    }
    const checks = [e.outcome, e.reply, e.httpStatus, e.leavesPod, e.sourceSeenByApp, e.listening, e.rules, e.path?.length ? e.path : undefined, e.notPath?.length ? e.notPath : undefined];
    if (checks.every((c) => c === undefined)) add(at('expect'), 'a probe must check something: give outcome, reply, httpStatus, leavesPod, sourceSeenByApp, path or notPath (listening for ss, rules for iptables-save)');
    if (e.listening !== undefined && probe.tool !== 'ss') add(at('expect', 'listening'), 'only an ss probe can expect listening sockets');
    if (e.rules !== undefined && probe.tool !== 'iptables-save') add(at('expect', 'rules'), 'only an iptables-save probe can expect rules');
    if (e.httpStatus !== undefined && !HTTP_TOOLS.has(probe.tool)) add(at('expect', 'httpStatus'), 'only curl and http probes see an HTTP status');
    if (e.sourceSeenByApp?.startsWith('pod/') && !podNames.has(e.sourceSeenByApp.slice(4))) add(at('expect', 'sourceSeenByApp'), noPod(e.sourceSeenByApp));
    const hops = [...(e.path ?? []).map((h, k) => ['path', k, h] as const), ...(e.notPath ?? []).map((h, k) => ['notPath', k, h] as const)];
    for (const [field, k, text] of hops) {
      try {
        // A lab host a hop names must be one of the lab: a pod of lab.pods, a Service of the lab or its setup.
        for (const r of labRefsOf(parseHop(text))) {
          const known = r.kind === 'pod' ? podNames.has(r.name) : knownHosts.has(r.name);
          if (!known) add(at('expect', field, k), r.kind === 'pod' ? noPod(r.ref) : `${r.ref}: no Service "${r.name}" in the lab or its setup`, { offset: text.indexOf(r.ref) });
        }
      } catch (err) {
        if (!(err instanceof HopSyntaxError)) throw err;
        add(at('expect', field, k), err.message, { offset: err.offset });
      }
    }
  });
  return problems;
}

function duplicates<T>(values: readonly T[], report: (index: number, value: T) => void): void {
  const seen = new Set<T>();
  values.forEach((v, i) => {
    if (seen.has(v)) report(i, v);
    seen.add(v);
  });
}

function claimAddress(
  owners: Map<string, string>,
  ip: string,
  who: string,
  path: FieldPath,
  add: (path: FieldPath, message: string) => void,
): void {
  const owner = owners.get(ip);
  if (owner !== undefined) add(path, `${ip} is already the address of ${owner}`);
  else owners.set(ip, who);
}
