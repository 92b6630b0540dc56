// `tool: http`: one HTTP request, whatever client the backend has: curl's probe under a name
// that says what it checks.
import { curlArgv, readCurl } from './curl.ts';
import type { ConnectTool } from './tool.ts';

export const httpTool: ConnectTool = { name: 'http', kind: 'connect', payloadKind: 'http', argv: curlArgv, read: readCurl };
