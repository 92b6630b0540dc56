// kernelConnections: every connection of an xtables-monitor trace, in the kernel's order, with
// its first packet's addresses: the runner's evidence for a sidecar's own connections (local →
// local: the app's call to its Service, then the sidecar's connection to its own pod IP, then
// the inbound sidecar's connection to the app from 127.0.0.6). The text follows xtables-monitor
// 1.8.9's format; the handles are what `nft -a list table ip nat` numbers.
import test from 'ava';
import { kernelConnections, parseXtablesMonitor } from '../../../src/probes/kernel-trace.ts';

const TRACE = [
  'PACKET: 0 1a OUT=eth0 SRC=10.64.0.20 DST=10.96.0.10 LEN=60 TOS=0x0 TTL=64 ID=1 DF SPORT=40000 DPORT=8080 SYN',
  ' TRACE: 0 1a nat:OUTPUT:rule:0x10:JUMP:ISTIO_OUTPUT  -4 -t nat -A OUTPUT -j ISTIO_OUTPUT',
  ' TRACE: 0 1a nat:ISTIO_OUTPUT:rule:0x19:JUMP:ISTIO_REDIRECT  -4 -t nat -A ISTIO_OUTPUT -j ISTIO_REDIRECT',
  ' TRACE: 0 1a nat:ISTIO_REDIRECT:rule:0x6:ACCEPT  -4 -t nat -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001',
  'PACKET: 0 2b OUT=lo SRC=10.64.0.20 DST=10.64.0.20 LEN=60 TOS=0x0 TTL=64 ID=2 DF SPORT=40002 DPORT=8080 SYN',
  ' TRACE: 0 2b nat:OUTPUT:rule:0x10:JUMP:ISTIO_OUTPUT  -4 -t nat -A OUTPUT -j ISTIO_OUTPUT',
  ' TRACE: 0 2b nat:ISTIO_OUTPUT:rule:0x12:JUMP:ISTIO_IN_REDIRECT  -4 -t nat -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -j ISTIO_IN_REDIRECT',
  ' TRACE: 0 2b nat:ISTIO_IN_REDIRECT:rule:0x7:ACCEPT  -4 -t nat -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006',
  'PACKET: 0 2b OUT=lo SRC=10.64.0.20 DST=10.64.0.20 LEN=52 TOS=0x0 TTL=64 ID=3 DF SPORT=40002 DPORT=8080 ACK',
  'PACKET: 0 3c OUT=lo SRC=127.0.0.6 DST=10.64.0.20 LEN=60 TOS=0x0 TTL=64 ID=4 DF SPORT=40004 DPORT=8080 SYN',
  ' TRACE: 0 3c nat:OUTPUT:rule:0x10:JUMP:ISTIO_OUTPUT  -4 -t nat -A OUTPUT -j ISTIO_OUTPUT',
  ' TRACE: 0 3c nat:ISTIO_OUTPUT:rule:0x11:RETURN  -4 -t nat -A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN',
].join('\n');

const HANDLES = new Map([
  ['nat:16', { chain: 'OUTPUT', rule: 1 }],
  ['nat:17', { chain: 'ISTIO_OUTPUT', rule: 1 }],
  ['nat:18', { chain: 'ISTIO_OUTPUT', rule: 2 }],
  ['nat:25', { chain: 'ISTIO_OUTPUT', rule: 9 }],
  ['nat:6', { chain: 'ISTIO_REDIRECT', rule: 1 }],
  ['nat:7', { chain: 'ISTIO_IN_REDIRECT', rule: 1 }],
]);

test('every connection of the trace, in order, with its first packet and its rules', (t) => {
  const conns = kernelConnections(parseXtablesMonitor(TRACE), { direction: 'out', proto: 'tcp', dport: 8080 }, HANDLES);
  t.deepEqual(
    conns.map((c) => ({ to: `${c.src}>${c.dst}:${c.dport} ${c.iface}`, rules: c.hops.map((h) => `${h.chain}#${h.rule}`).join(' ') })),
    [
      { to: '10.64.0.20>10.96.0.10:8080 eth0', rules: 'OUTPUT#1 ISTIO_OUTPUT#9 ISTIO_REDIRECT#1' },
      { to: '10.64.0.20>10.64.0.20:8080 lo', rules: 'OUTPUT#1 ISTIO_OUTPUT#2 ISTIO_IN_REDIRECT#1' },
      { to: '127.0.0.6>10.64.0.20:8080 lo', rules: 'OUTPUT#1 ISTIO_OUTPUT#1' },
    ],
  );
});

test('no connection in the other direction', (t) => {
  t.deepEqual(kernelConnections(parseXtablesMonitor(TRACE), { direction: 'in', proto: 'tcp', dport: 8080 }, HANDLES), []);
});
