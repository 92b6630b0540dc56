// Every kind of mistake a scenario author makes, each in a file under test/data/malformed/,
// with the exact line `pathlab validate` must print for it (file, line, column, field).
// `schema` says whether JSON Schema can see the mistake (ajv must then reject the file
// against schema/scenario.schema.json too); `yaml: false` marks files that are not YAML at all.
export const MALFORMED_DIR = 'test/data/malformed';

export interface MalformedCase {
  file: string;
  /** The first problem line; cases with more than one list them all. */
  lines: string[];
  /** A mistake JSON Schema can express (so ajv rejects it as well). */
  schema: boolean;
  /** false when the file is not one readable YAML document (ajv has nothing to check). */
  yaml?: false;
}

const f = (name: string) => `${MALFORMED_DIR}/${name}.yaml`;

export const MALFORMED_CASES: MalformedCase[] = [
  // YAML syntax and documents
  { file: f('unclosed-quote'), schema: false, yaml: false, lines: [`${f('unclosed-quote')}:36:14: (yaml): this quoted string is never closed`] },
  { file: f('tab-indent'), schema: false, yaml: false, lines: [`${f('tab-indent')}:32:1: (yaml): Tabs are not allowed as indentation`] },
  { file: f('duplicate-key'), schema: false, yaml: false, lines: [`${f('duplicate-key')}:10:3: (yaml): the key "backends" appears twice in the same mapping`] },
  { file: f('two-documents'), schema: false, yaml: false, lines: [`${f('two-documents')}:43:1: (document): a scenario file holds one YAML document; found another one here`] },
  { file: f('empty-file'), schema: false, yaml: false, lines: [`${f('empty-file')}:1:1: (document): the file is empty (expected a Scenario)`] },
  { file: f('not-a-mapping'), schema: true, lines: [`${f('not-a-mapping')}:1:1: (document): expected a mapping, got a list`] },
  // literals and enums
  { file: f('wrong-api-version'), schema: true, lines: [`${f('wrong-api-version')}:2:13: apiVersion: expected "pathlab/v1", got "pathlab/v2"`] },
  { file: f('wrong-kind'), schema: true, lines: [`${f('wrong-kind')}:3:7: kind: expected "Scenario", got "Senario"`] },
  { file: f('unknown-backend'), schema: true, lines: [`${f('unknown-backend')}:9:21: metadata.backends[1]: expected one of "netns", "kind", "cluster", got "docker"`] },
  { file: f('unknown-istio-version'), schema: true, lines: [`${f('unknown-istio-version')}:12:14: lab.istio.version: expected one of "1.2", "1.5", "1.14", "1.17", "1.18", "1.22", "1.23", "1.24", "current", got "1.99"`] },
  { file: f('unknown-tool'), schema: true, lines: [`${f('unknown-tool')}:32:11: probes[0].tool: expected one of "nc", "curl", "tcp", "http", "ss", "iptables-save", got "ping"`] },
  { file: f('unknown-seed'), schema: true, lines: [`${f('unknown-seed')}:8:11: metadata.source.seed: expected one of "000", "001", "002", "003", "004", got "007"`] },
  // unknown fields
  { file: f('unknown-top-field'), schema: true, lines: [`${f('unknown-top-field')}:28:1: prob3s: unknown field "prob3s" (did you mean "probes"? expected one of: apiVersion, kind, metadata, lab, setup, probes)`] },
  { file: f('unknown-field-typo'), schema: true, lines: [`${f('unknown-field-typo')}:6:3: metadata.descriptoin: unknown field "descriptoin" (did you mean "description"? expected one of: name, description, tags, source, backends, notOn)`] },
  { file: f('unknown-probe-field'), schema: true, lines: [`${f('unknown-probe-field')}:33:5: probes[0].retries: unknown field "retries" (expected one of: name, description, from, tool, target, payload, halfClose, timeout, captures, expect)`] },
  // types and required fields
  { file: f('port-as-string'), schema: true, lines: [`${f('port-as-string')}:35:13: probes[0].target.port: expected a number, got "7000"`] },
  { file: f('mapping-as-list'), schema: true, lines: [`${f('mapping-as-list')}:31:7: probes[0].from: expected a mapping, got a list`] },
  { file: f('missing-metadata-name'), schema: true, lines: [`${f('missing-metadata-name')}:5:3: metadata.name: required field is missing (expected a string)`] },
  { file: f('missing-probes'), schema: true, lines: [`${f('missing-probes')}:2:1: probes: required field is missing (expected a list)`] },
  { file: f('empty-probes'), schema: true, lines: [`${f('empty-probes')}:28:9: probes: needs at least 1 item(s)`] },
  // Both problems in one pass: the pod's name, and the probe that names a pod the lab does not have.
  {
    file: f('name-not-kebab'),
    schema: true,
    lines: [`${f('name-not-kebab')}:14:13: lab.pods[0].name: must be kebab-case: lower-case letters, digits and "-", got "App_1"`, `${f('name-not-kebab')}:31:12: probes[0].from.pod: no pod "app" in lab.pods (pods: App_1, web)`],
  },
  { file: f('bad-timeout'), schema: true, lines: [`${f('bad-timeout')}:37:14: probes[0].timeout: must be a duration such as 3s or 500ms, got "3 seconds"`] },
  { file: f('expect-empty'), schema: false, lines: [`${f('expect-empty')}:37:13: probes[0].expect: a probe must check something: give outcome, reply, httpStatus, leavesPod, sourceSeenByApp, path or notPath (listening for ss, rules for iptables-save)`] },
  // A newline in a quoted key cannot forge a problem line, an ESC cannot reach the terminal: both shown as escapes.
  {
    file: f('control-characters'),
    schema: true,
    lines: [
      `${f('control-characters')}:37:5: probes[0]["x\\nscenarios/forged.yaml:1:1: probes: all good"]: unknown field "x\\x0ascenarios/forged.yaml:1:1: probes: all good" (expected one of: name, description, from, tool, target, payload, halfClose, timeout, captures, expect)`,
      `${f('control-characters')}:38:5: probes[0]["\\u001b[31mred"]: unknown field "\\x1b[31mred" (expected one of: name, description, from, tool, target, payload, halfClose, timeout, captures, expect)`,
    ],
  },
  // The lab's limits (LIMITS in src/scenario/schema.ts): a file cannot start thousands of processes.
  { file: f('too-many-ports'), schema: true, lines: [`${f('too-many-ports')}:27:14: lab.externalHosts[0].ports: has more than 16 item(s)`] },
  { file: f('too-many-pods'), schema: true, lines: [`${f('too-many-pods')}:14:5: lab.pods: has more than 32 item(s)`] },
  // What used to pass validate and fail late, with a bare ip/openssl error (issue 12, item 6).
  {
    file: f('late-failures'),
    schema: false,
    lines: [
      `${f('late-failures')}:11:50: lab.network.serviceCidr: 10.64.0.0/24 overlaps the pod network 10.64.0.0/16: each network needs addresses of its own`,
      `${f('late-failures')}:11:78: lab.network.externalCidr: a /31 network has no room for the node's gateway and a host (at most /30)`,
      `${f('late-failures')}:13:13: lab.pods[0].name: the name "node" is the lab's own (its node namespace): choose another`,
      `${f('late-failures')}:16:11: lab.pods[1].ip: 10.64.0.1 is the gateway of the pod network (the lab's node has it)`,
      `${f('late-failures')}:18:23: lab.pods[1].ports[0].port: port 15006 is the sidecar's own (15000, 15001, 15004, 15006, 15020, 15021, 15090): a meshed app cannot listen there`,
      `${f('late-failures')}:19:20: lab.pods[1].annotations: istio-init cannot take these annotations: OutboundPortsExclude: "70000" is not a port`,
      `${f('late-failures')}:20:13: lab.pods[2].name: "averyveryveryveryveryveryveryveryveryveryveryverylongpodnameok.averyveryverylongnamespace" is longer than the 64 characters of a certificate's common name (the pod has a sidecar)`,
      `${f('late-failures')}:24:81: lab.externalHosts[0].password: a password of control characters or spaces cannot be given to redis`,
      `${f('late-failures')}:29:51: probes[0].target.path: a path of control characters or spaces is no URL path (write them %-encoded)`,
    ],
  },
  { file: f('setup-bad-cluster-ip'), schema: false, lines: [`${f('setup-bad-cluster-ip')}:53:20: setup[0].apply.spec.clusterIP: expected an IPv4 address of the service network, or None`] },
  // Objects a setup applies are checked against the Kubernetes and Istio schemas (kubernetes-models, @kubernetes-models/istio).
  { file: f('setup-invalid-object'), schema: false, lines: [`${f('setup-invalid-object')}:47:7: setup[0].apply: spec.ports[0].port must be integer`] },
  { file: f('pod-network-full'), schema: false, lines: [`${f('pod-network-full')}:13:23: lab.network.podCidr: 10.64.3.0/28 has room for 5 pod(s) without an ip (from its 11th address on); this lab has 6`, `${f('pod-network-full')}:19:11: lab.pods[1].ip: 10.64.3.20 is outside the pod network 10.64.3.0/28`] },
  { file: f('timeout-zero'), schema: false, lines: [`${f('timeout-zero')}:37:14: probes[0].timeout: must be from 100ms to 5 minutes`] },
  { file: f('timeout-huge'), schema: false, lines: [`${f('timeout-huge')}:37:14: probes[0].timeout: must be from 100ms to 5 minutes`] },
  // ports, addresses, CIDRs
  { file: f('port-zero'), schema: true, lines: [`${f('port-zero')}:27:15: lab.externalHosts[0].ports[0]: must be a port from 1 to 65535, got number 0`] },
  { file: f('port-too-big'), schema: true, lines: [`${f('port-too-big')}:35:13: probes[0].target.port: must be a port from 1 to 65535, got number 70000`] },
  { file: f('bad-ip'), schema: true, lines: [`${f('bad-ip')}:25:16: lab.externalHosts[0].address: must be an IPv4 address such as 10.0.0.6, got "10.0.0.256"`] },
  { file: f('bad-cidr'), schema: true, lines: [`${f('bad-cidr')}:12:14: lab.network.podCidr: must be an IPv4 CIDR such as 10.64.0.0/16, got "10.64.0.0/33"`] },
  { file: f('cidr-host-bits'), schema: false, lines: [`${f('cidr-host-bits')}:12:19: lab.network.externalCidr: "10.0.0.6/24" has host bits set (did you mean 10.0.0.0/24?)`] },
  { file: f('address-outside-lab'), schema: false, lines: [`${f('address-outside-lab')}:34:16: probes[0].target.address: 8.8.8.8 is outside the lab's networks (pod 10.64.0.0/16, service 10.96.0.0/16, external 10.0.0.0/24): probes only reach lab hosts`] },
  { file: f('pod-ip-outside-pod-network'), schema: false, lines: [`${f('pod-ip-outside-pod-network')}:18:11: lab.pods[1].ip: 10.65.3.20 is outside the pod network 10.64.0.0/16`] },
  { file: f('duplicate-address'), schema: false, lines: [`${f('duplicate-address')}:29:16: lab.externalHosts[1].address: 10.0.0.6 is already the address of external host other`] },
  // references and uniqueness
  { file: f('probe-from-unknown-pod'), schema: false, lines: [`${f('probe-from-unknown-pod')}:31:12: probes[0].from.pod: no pod "frontend" in lab.pods (pods: app, web)`] },
  { file: f('duplicate-probe-name'), schema: false, lines: [`${f('duplicate-probe-name')}:43:11: probes[1].name: a probe named "redis-7000" is already defined`] },
  { file: f('duplicate-pod-name'), schema: false, lines: [`${f('duplicate-pod-name')}:16:13: lab.pods[1].name: a pod named "app" is already defined`] },
  { file: f('unknown-target-host'), schema: false, lines: [`${f('unknown-target-host')}:34:13: probes[0].target.host: unknown host "redis.db" (known: redis)`] },
  { file: f('target-address-and-host'), schema: false, lines: [`${f('target-address-and-host')}:34:7: probes[0].target: give exactly one of address or host`] },
  { file: f('nc-without-target'), schema: false, lines: [`${f('nc-without-target')}:32:11: probes[0].tool: tool "nc" needs a target (address or host, and port)`] },
  { file: f('ss-with-target'), schema: false, lines: [`${f('ss-with-target')}:34:7: probes[0].target: tool "ss" takes no target`] },
  // setup steps
  { file: f('setup-two-actions'), schema: false, lines: [`${f('setup-two-actions')}:29:5: setup[0]: a setup step has one action, this one has annotate and meshConfig`] },
  { file: f('setup-annotate-unknown-pod'), schema: false, lines: [`${f('setup-annotate-unknown-pod')}:30:12: setup[0].annotate.pod: no pod "redis" in lab.pods (pods: app, web)`] },
  { file: f('setup-missing-file'), schema: false, lines: [`${f('setup-missing-file')}:30:16: setup[0].applyFile: no such file: fixes/service-entry.yaml (relative to the scenario file)`] },
  { file: f('setup-unknown-resource-kind'), schema: true, lines: [`${f('setup-unknown-resource-kind')}:31:13: setup[0].apply.kind: expected one of "Service", "ServiceEntry", "Sidecar", "PeerAuthentication", "DestinationRule", "VirtualService", got "ConfigMap"`] },
  // expectations and the path notation
  { file: f('hop-unknown-kind'), schema: false, lines: [`${f('hop-unknown-kind')}:41:11: probes[0].expect.path[1]: unknown hop kind "envoyy" (expected iptables, envoy, wire, app, reply)`] },
  // "=>" typed for "->": said as the arrow it is meant to be, not as an effect out of place.
  { file: f('hop-fat-arrow'), schema: false, lines: [`${f('hop-fat-arrow')}:40:33: probes[0].expect.path[0]: "=>" between rules: write "->" (table/CHAIN#N -> table/CHAIN#N … EFFECT)`] },
  { file: f('hop-bad-rule'), schema: false, lines: [`${f('hop-bad-rule')}:40:36: probes[0].expect.path[0]: "nat/ISTIO_OUTPUT#0" is not a rule (expected table/CHAIN#N, e.g. nat/ISTIO_OUTPUT#9)`] },
  { file: f('hop-redirect-without-port'), schema: false, lines: [`${f('hop-redirect-without-port')}:40:79: probes[0].expect.path[0]: REDIRECT needs its port, e.g. REDIRECT:15001`] },
  { file: f('hop-wire-bad-dst'), schema: false, lines: [`${f('hop-wire-bad-dst')}:42:31: probes[0].expect.path[2]: dst must be IP, IP:PORT or a lab host (pod/NAME:PORT, svc/NAME:PORT), got "redis:7000"`] },
  { file: f('reply-two-forms'), schema: false, lines: [`${f('reply-two-forms')}:40:9: probes[0].expect.reply: give one of exact, contains, pattern, none (not exact and pattern)`] },
  { file: f('reply-bad-pattern'), schema: false, lines: [`${f('reply-bad-pattern')}:40:18: probes[0].expect.reply.pattern: not a valid RE2 regular expression: error parsing regexp: missing closing ): \`^(-NOAUTH\``] },
  { file: f('capture-two-kinds'), schema: false, lines: [`${f('capture-two-kinds')}:38:9: probes[0].captures[0]: a capture is one kind, this one has tcpdump and conntrack`] },
  // hostile input
  { file: f('alias-bomb'), schema: false, yaml: false, lines: [`${f('alias-bomb')}:3:8: (yaml): too many alias expansions (more than 200): refusing a YAML alias bomb`] },
  { file: f('binary'), schema: false, yaml: false, lines: [`${f('binary')}:3:1: (file): not a text file: NUL byte at byte 38 (expected YAML)`] },
];
