// What changed in istio-init's rules from release to release, as data: one row of behaviour
// flags per era (see ../shared/notes/istio-iptables.md §5 for the commits and dates).
// The renderer reads these flags; it never compares version numbers itself.

export type IstioEra = '1.2' | '1.5' | '1.14' | '1.17' | '1.18' | '1.22' | '1.23' | '1.24' | 'current';

export interface IstioBehaviour {
  era: IstioEra;
  /** Lowest release of the era (versions are mapped to the era with the greatest `since` ≤ them). */
  since: [number, number];
  /** How the loopback rule of ISTIO_OUTPUT looks: 1.2 sends anything to a non-localhost address over lo to 15001 (no owner match); 1.5+ only the proxy's own uid/gid, to 15006. */
  loopback: 'any-to-redirect' | 'owner-to-in-redirect';
  /** `-o lo -s 127.0.0.6/32 -j RETURN` (1.3+). */
  inboundPassthroughReturn: boolean;
  /** Inbound goes to the inbound capture port only with `-b '*'`, else to the proxy port (before 1.6). */
  inboundCapturePortOnlyForWildcard: boolean;
  /** `ISTIO_INBOUND -p tcp --dport <tunnel> -j RETURN` (1.7+). */
  tunnelPortReturn: boolean;
  /** Hard-coded `--dport 22 -j RETURN` for `-b '*'` (before 1.13). */
  sshPortReturn: boolean;
  /** Owner loopback redirect gains `-p tcp ! --dport <tunnel>` (1.18+). */
  ownerRedirectExcludesTunnel: boolean;
  /** `-A OUTPUT -p tcp -j ISTIO_OUTPUT` (before 1.25) instead of `-A OUTPUT -j ISTIO_OUTPUT`. */
  outputTcpOnly: boolean;
  /** `-o` port excludes also RETURN UDP (1.25+). */
  outboundExcludeUdp: boolean;
  /** A final `-A ISTIO_OUTPUT -j RETURN` after an include CIDR list (before 1.23). */
  trailingReturnAfterCidrs: boolean;
  /** Where DNS capture lives: none (before 1.8), nat/raw OUTPUT (1.8–1.22), ISTIO_OUTPUT via `-p udp` jumps (1.23–1.24), ISTIO_OUTPUT_DNS chains (1.25+). */
  dnsLayout: 'none' | 'output' | 'istio-output-udp' | 'output-dns-chain';
  /** DNS capture needs a known server (or capture-all); before 1.25 `--redirect-dns` alone changed the owner rules. */
  dnsRequiresServer: boolean;
  /** The raw PREROUTING zone rule matched the server with `-d` (bug before 1.20) or `-s`. */
  dnsZoneReplyMatch: '-d' | '-s';
  /** Features and the release they came with. */
  outboundPortsInclude: boolean; // -q, 1.7
  loopbackIncludeDisablesLoReturn: boolean; // 1.7
  excludeInterfaces: boolean; // -c, 1.12
  dropInvalid: boolean; // 1.13
  /** Drop INVALID through an ISTIO_DROP chain (1.24+) instead of a direct `-j DROP`. */
  dropInvalidChain: boolean;
  ownerGroups: boolean; // 1.14
  configurableIPv4Loopback: boolean; // 1.21
  /** TPROXY's established-connection match: `-m socket` (before 1.6) or conntrack. */
  tproxyEstablished: 'socket' | 'conntrack';
  /** IPv4-only pods: the 1.x script locked ip6tables INPUT down instead of skipping IPv6. */
  ipv6LockdownWhenDisabled: boolean;
  /** How Istio's own goldens of that era recorded the rules. */
  goldenFormat: 'commands' | 'restore';
  /**
   * The shape of the listeners istiod pushes: `legacy` (1.5 and before: an HTTP port's listener
   * has only an HTTP chain, so non-HTTP bytes get a 400) or `current` (1.6 on: the
   * PassthroughFilterChain takes what http_inspector does not recognise, commit 31b35eb73dc).
   */
  envoyEra: 'legacy' | 'current';
  /** How the injector writes istio-init's flags: 1.2's own defaults (inbound ports = container ports, no -z), or from the annotations. */
  injector: '1.2' | 'annotations';
}

const BASE_1_14: Omit<IstioBehaviour, 'era' | 'since'> = {
  loopback: 'owner-to-in-redirect',
  inboundPassthroughReturn: true,
  inboundCapturePortOnlyForWildcard: false,
  tunnelPortReturn: true,
  sshPortReturn: false,
  ownerRedirectExcludesTunnel: false,
  outputTcpOnly: true,
  outboundExcludeUdp: false,
  trailingReturnAfterCidrs: true,
  dnsLayout: 'output',
  dnsRequiresServer: false,
  dnsZoneReplyMatch: '-d',
  outboundPortsInclude: true,
  loopbackIncludeDisablesLoReturn: true,
  excludeInterfaces: true,
  dropInvalid: true,
  dropInvalidChain: false,
  ownerGroups: true,
  configurableIPv4Loopback: false,
  tproxyEstablished: 'conntrack',
  ipv6LockdownWhenDisabled: false,
  goldenFormat: 'commands',
  envoyEra: 'current',
  injector: 'annotations',
};

/** The behaviour table, oldest first. */
export const ISTIO_BEHAVIOURS: readonly IstioBehaviour[] = [
  {
    ...BASE_1_14, era: '1.2', since: [1, 0],
    loopback: 'any-to-redirect', inboundPassthroughReturn: false, inboundCapturePortOnlyForWildcard: true, tunnelPortReturn: false,
    sshPortReturn: true, dnsLayout: 'none', outboundPortsInclude: false, loopbackIncludeDisablesLoReturn: false, excludeInterfaces: false,
    dropInvalid: false, ownerGroups: false, tproxyEstablished: 'socket', ipv6LockdownWhenDisabled: true, envoyEra: 'legacy', injector: '1.2',
  },
  {
    ...BASE_1_14, era: '1.5', since: [1, 5],
    inboundCapturePortOnlyForWildcard: true, tunnelPortReturn: false, sshPortReturn: true, dnsLayout: 'none', outboundPortsInclude: false,
    loopbackIncludeDisablesLoReturn: false, excludeInterfaces: false, dropInvalid: false, ownerGroups: false, tproxyEstablished: 'socket',
    envoyEra: 'legacy',
  },
  { ...BASE_1_14, era: '1.14', since: [1, 14] },
  { ...BASE_1_14, era: '1.17', since: [1, 17] },
  { ...BASE_1_14, era: '1.18', since: [1, 18], ownerRedirectExcludesTunnel: true },
  { ...BASE_1_14, era: '1.22', since: [1, 20], ownerRedirectExcludesTunnel: true, dnsZoneReplyMatch: '-s', configurableIPv4Loopback: true },
  {
    ...BASE_1_14, era: '1.23', since: [1, 23], ownerRedirectExcludesTunnel: true, dnsZoneReplyMatch: '-s', configurableIPv4Loopback: true,
    dnsLayout: 'istio-output-udp', trailingReturnAfterCidrs: false,
  },
  {
    ...BASE_1_14, era: '1.24', since: [1, 24], ownerRedirectExcludesTunnel: true, dnsZoneReplyMatch: '-s', configurableIPv4Loopback: true,
    dnsLayout: 'istio-output-udp', trailingReturnAfterCidrs: false, goldenFormat: 'restore', dropInvalidChain: true,
  },
  {
    ...BASE_1_14, era: 'current', since: [1, 25], ownerRedirectExcludesTunnel: true, dnsZoneReplyMatch: '-s', configurableIPv4Loopback: true,
    dnsLayout: 'output-dns-chain', trailingReturnAfterCidrs: false, outputTcpOnly: false, outboundExcludeUdp: true, dnsRequiresServer: true, dropInvalidChain: true,
    goldenFormat: 'restore',
  },
];

/** The version names scenarios and the CLI take, one per row of the table. */
export const ISTIO_ERAS = ISTIO_BEHAVIOURS.map((b) => b.era) as [IstioEra, ...IstioEra[]];

/**
 * `1.14.3`, `1.14`, `current`, `1.30.1` → the behaviour of that release's era. Versions before 1.5
 * other than 1.0–1.2 (1.3, 1.4) are refused: their rules are between the 1.2 and 1.5 rows.
 */
export function resolveIstioVersion(version: string): IstioBehaviour {
  const v = version.trim().replace(/^v/, '');
  const exact = ISTIO_BEHAVIOURS.find((b) => b.era === v);
  if (exact) return exact;
  const m = /^(\d+)\.(\d+)(?:\.\d+)?(?:-[\w.]+)?$/.exec(v);
  if (!m) throw new RangeError(`unknown Istio version "${version}" (expected ${ISTIO_ERAS.join(', ')} or a release such as 1.14.3)`);
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (major !== 1) throw new RangeError(`unknown Istio version "${version}": only 1.x releases are modelled`);
  if (minor === 3 || minor === 4) throw new RangeError(`Istio ${version}: 1.3 and 1.4 are not modelled (their rules sit between the 1.2 and 1.5 rows)`);
  let found: IstioBehaviour | undefined;
  for (const b of ISTIO_BEHAVIOURS) if (b.since[1] <= minor) found = b;
  if (!found) throw new RangeError(`unknown Istio version "${version}"`);
  return found;
}
