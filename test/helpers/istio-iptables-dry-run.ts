// What `pilot-agent istio-iptables --dry-run` would restore, read from its log.

/** The IPv4 restore payload istio-iptables prints in dry-run mode (its log says "the following input:"). */
export function dryRunPayload(log: string): string {
  const lines = log.split('\n');
  const start = lines.findIndex((l) => /Running iptables restore with: iptables-restore and the following input:/.test(l));
  if (start < 0) throw new Error(`no restore input in istio-iptables' output:\n${log.slice(-2000)}`);
  const out: string[] = [];
  for (const l of lines.slice(start + 1)) {
    if (/^\d{4}-\d\d-\d\dT/.test(l)) break;
    out.push(l);
  }
  return out.join('\n').trim();
}
