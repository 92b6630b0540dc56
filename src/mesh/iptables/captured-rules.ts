// A pod's captured rules (iptables-save of a live pod) with an annotation applied as the
// istio-init of its era applies it: `traffic.sidecar.istio.io/excludeOutboundPorts` (istio-iptables
// `-o`) puts `-p tcp --dport PORT -j RETURN` first in the chain OUTPUT jumps to (ISTIO_OUTPUT; the
// seed 003 pod's author lower-cased it to istio_OUTPUT), before the rules that send to the
// sidecar; where OUTPUT hands over every protocol (current Istio: `-A OUTPUT -j ISTIO_OUTPUT`), a
// `-p udp` twin follows each, as pilot-agent istio-iptables --dry-run -o shows. Pure: the text in,
// the text out.

/** The nat chain the captured OUTPUT hands TCP to (Istio's ISTIO_OUTPUT), if any. */
export function capturedOutputChain(save: string): { chain: string; allProtocols: boolean } | undefined {
  const m = /^-A OUTPUT (-p tcp )?-j (\S*output\S*)$/im.exec(natTable(save)?.text ?? '');
  return m ? { chain: m[2]!, allProtocols: m[1] === undefined } : undefined;
}

function natTable(save: string): { start: number; text: string } | undefined {
  const start = save.search(/^\* ?nat$/m);
  if (start < 0) return undefined;
  const end = save.indexOf('\nCOMMIT', start);
  return { start, text: save.slice(start, end < 0 ? undefined : end) };
}

/** The captured rules with these outbound ports excluded from capture, as istio-iptables' `-o` does; an error when the rules have no Istio output chain. */
export function excludeOutboundPorts(save: string, ports: readonly number[]): string {
  if (ports.length === 0) return save;
  const out = capturedOutputChain(save);
  const nat = natTable(save);
  if (!out || !nat) throw new Error('the captured rules have no chain OUTPUT hands TCP to (ISTIO_OUTPUT): excludeOutboundPorts has nothing to change');
  const { chain, allProtocols } = out;
  const lines = ports.flatMap((p) => [`-A ${chain} -p tcp -m tcp --dport ${p} -j RETURN`, ...(allProtocols ? [`-A ${chain} -p udp -m udp --dport ${p} -j RETURN`] : [])]).join('\n');
  const first = nat.text.search(new RegExp(`^-A ${chain.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `, 'm'));
  const at = first < 0 ? nat.start + nat.text.length + 1 : nat.start + first;
  return `${save.slice(0, at)}${lines}\n${save.slice(at)}`;
}
