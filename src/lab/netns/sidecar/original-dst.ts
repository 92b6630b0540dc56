// SO_ORIGINAL_DST: the destination a connection had before iptables REDIRECT rewrote it to
// the sidecar's port. Envoy's virtualOutbound reads it the same way (use_original_dst).
// No npm package offers this option (Node's sockets expose only integer options), so it is
// one getsockopt(2) call through koffi, on the accepted socket's file descriptor.
import { createRequire } from 'node:module';
import type Koffi from 'koffi';

const SOL_IP = 0;
const SO_ORIGINAL_DST = 80;
const SOCKADDR_IN_SIZE = 16;

type GetSockOpt = (fd: number, level: number, name: number, buf: Buffer, len: number[]) => number;
let getsockopt: GetSockOpt | undefined;

/**
 * Loads libc's getsockopt. `requireFrom` is a file path inside the project, so a bundled
 * copy of this module (the lab runs the sidecar from a bundle elsewhere) still finds koffi.
 */
export function loadGetsockopt(requireFrom: string = import.meta.url): GetSockOpt {
  if (getsockopt) return getsockopt;
  const koffi = createRequire(requireFrom)('koffi') as typeof Koffi;
  const libc = koffi.load('libc.so.6');
  getsockopt = libc.func('int getsockopt(int fd, int level, int name, _Out_ uint8_t *val, _Inout_ uint32_t *len)') as unknown as GetSockOpt;
  return getsockopt;
}

export interface OriginalDst {
  ip: string;
  port: number;
}

/** The pre-NAT destination of an accepted IPv4 TCP socket, or undefined when it was not NATed. */
export function originalDst(fd: number, requireFrom?: string): OriginalDst | undefined {
  const fn = loadGetsockopt(requireFrom);
  const buf = Buffer.alloc(SOCKADDR_IN_SIZE);
  const len = [SOCKADDR_IN_SIZE];
  if (fn(fd, SOL_IP, SO_ORIGINAL_DST, buf, len) !== 0) return undefined;
  // struct sockaddr_in: family (2 bytes, host order), port (2, network order), address (4).
  return { ip: `${buf[4]}.${buf[5]}.${buf[6]}.${buf[7]}`, port: buf.readUInt16BE(2) };
}

/** The file descriptor behind a net.Socket (libuv's handle keeps it in `fd`). */
export function socketFd(sock: { _handle?: { fd?: number } }): number {
  const fd = sock._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('socket has no file descriptor');
  return fd;
}
