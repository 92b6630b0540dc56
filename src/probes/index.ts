// The probe tools by the name a scenario gives them (`tool: nc`).
import { curlArgv, readCurl } from './curl.ts';
import { httpTool } from './http.ts';
import { iptablesSaveArgv, ruleProblems } from './iptables-save.ts';
import { ncArgv, readNc } from './nc.ts';
import { listeningProblems, parseSs, ssArgv } from './ss.ts';
import { tcpTool } from './tcp.ts';
import type { ProbeTool } from './tool.ts';

export const TOOLS = {
  nc: { name: 'nc', kind: 'connect', payloadKind: 'bytes', argv: ncArgv, read: readNc },
  curl: { name: 'curl', kind: 'connect', payloadKind: 'http', argv: curlArgv, read: readCurl },
  tcp: tcpTool,
  http: httpTool,
  ss: { name: 'ss', kind: 'pod-state', argv: ssArgv, check: (out, e) => listeningProblems(parseSs(out), e.listening ?? []) },
  'iptables-save': { name: 'iptables-save', kind: 'pod-state', argv: iptablesSaveArgv, check: (out, e) => ruleProblems(out, e.rules ?? []) },
} as const satisfies Record<string, ProbeTool>;

export type ToolName = keyof typeof TOOLS;
export const TOOL_NAMES = Object.keys(TOOLS) as ToolName[];
