// `tool: tcp`: a TCP connection with an optional payload, whatever client the backend has.
// Every backend has nc, so tcp is nc's probe under a name that says what it checks.
import { ncArgv, readNc } from './nc.ts';
import type { ConnectTool } from './tool.ts';

export const tcpTool: ConnectTool = { name: 'tcp', kind: 'connect', payloadKind: 'bytes', argv: ncArgv, read: readNc };
