// The exec client against a real protocol peer: a WebSocket server on 127.0.0.1 that speaks
// the Kubernetes exec subprotocols as the API server does (channel byte, then data; the exit
// status as a Status JSON on channel 3; v5's close frames on 255). client-node's own tests
// drive its exec WebSocket by hand the same way (src/exec_test.ts). Every v5 answer here ends
// with close frames for stdout and stderr before the status: client-node 1.4.0 alone throws
// "Unknown stream: 255" from the socket's message event on those (seen by hand), so these
// tests also hold the channel filter of exec-client.ts to its job.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { kubeConfigFor } from '../../../helpers/kube.ts';
import { WebSocketServer, type WebSocket } from 'ws';
import { PodExecClient, exitCodeOfStatus } from '../../../../src/lab/kind/exec-client.ts';

const SUCCESS = JSON.stringify({ metadata: {}, status: 'Success' });
const exitStatus = (code: number) =>
  JSON.stringify({
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [sh -c exit ${code}], exit code ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  });
const frame = (channel: number, data: string | Buffer = '') => Buffer.concat([Buffer.from([channel]), Buffer.isBuffer(data) ? data : Buffer.from(data)]);

interface Seen {
  path: string;
  protocol: string;
  command: string[];
  container: string | null;
}

/** A kube-apiserver exec endpoint that offers only `protocols`, and runs a few fake commands. */
async function execServer(protocols: string[]): Promise<{ url: string; seen: Seen[]; close: () => Promise<void> }> {
  const server: Server = createServer((_req, res) => {
    res.statusCode = 400;
    res.end('exec needs a WebSocket upgrade');
  });
  const seen: Seen[] = [];
  const wss = new WebSocketServer({
    server,
    handleProtocols: (offered) => protocols.find((p) => offered.has(p)) ?? false,
  });
  wss.on('connection', (ws: WebSocket, req) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    const command = u.searchParams.getAll('command');
    seen.push({ path: u.pathname, protocol: ws.protocol, command, container: u.searchParams.get('container') });
    const v5 = ws.protocol === 'v5.channel.k8s.io';
    const finish = (status: string) => {
      if (v5) {
        ws.send(frame(255, Buffer.from([1])));
        ws.send(frame(255, Buffer.from([2])));
      }
      ws.send(frame(3, status));
      ws.close(1000);
    };
    switch (command[0]) {
      case 'echo':
        ws.send(frame(1, `${command.slice(1).join(' ')}\n`));
        finish(SUCCESS);
        break;
      case 'fail':
        ws.send(frame(1, 'partial\n'));
        ws.send(frame(2, 'redis: NOAUTH\n'));
        finish(exitStatus(Number(command[1])));
        break;
      case 'cat': {
        const chunks: Buffer[] = [];
        ws.on('message', (data: Buffer) => {
          if (data[0] === 0) chunks.push(data.subarray(1));
          // v5: the client half-closes stdin with [255, 0]; v4 has no such frame, so the
          // server answers as soon as it has the line.
          const closed = data[0] === 255 && data[1] === 0;
          if (closed || (!v5 && Buffer.concat(chunks).includes(0x0a))) {
            ws.send(frame(1, Buffer.concat(chunks)));
            finish(SUCCESS);
          }
        });
        break;
      }
      case 'drop':
        ws.send(frame(1, 'half an answer'));
        setTimeout(() => ws.terminate(), 20);
        break;
      case 'hang':
        ws.send(frame(1, 'started\n'));
        break;
      default:
        ws.send(frame(2, `${command[0]}: not found\n`));
        finish(exitStatus(127));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.close(() => r());
      }),
  };
}

const target = { namespace: 'default', pod: 'toolbox-6d5f', container: 'toolbox' };

for (const protocol of ['v5.channel.k8s.io', 'v4.channel.k8s.io']) {
  test(`${protocol}: stdout and exit 0, the request names pod, container and argv`, async (t) => {
    const srv = await execServer([protocol]);
    t.teardown(srv.close);
    const r = await new PodExecClient(kubeConfigFor(srv.url)).exec(target, ['echo', 'hello', 'mesh']);
    t.is(r.exitCode, 0);
    t.is(r.stdout, 'hello mesh\n');
    t.is(r.stderr, '');
    t.is(r.where, 'default/toolbox-6d5f/toolbox');
    t.deepEqual(r.argv, ['echo', 'hello', 'mesh']);
    t.is(r.spawnError, undefined);
    t.is(srv.seen[0]?.protocol, protocol);
    t.is(srv.seen[0]?.path, '/api/v1/namespaces/default/pods/toolbox-6d5f/exec');
    t.deepEqual(srv.seen[0]?.command, ['echo', 'hello', 'mesh']);
    t.is(srv.seen[0]?.container, 'toolbox');
  });

  test(`${protocol}: a non-zero exit is data, with stdout and stderr kept apart`, async (t) => {
    const srv = await execServer([protocol]);
    t.teardown(srv.close);
    const r = await new PodExecClient(kubeConfigFor(srv.url)).exec(target, ['fail', '7']);
    t.is(r.exitCode, 7);
    t.is(r.stdout, 'partial\n');
    t.is(r.stderr, 'redis: NOAUTH\n');
    t.false(r.timedOut);
    t.is(r.spawnError, undefined);
  });

  test(`${protocol}: stdin reaches the command`, async (t) => {
    const srv = await execServer([protocol]);
    t.teardown(srv.close);
    const r = await new PodExecClient(kubeConfigFor(srv.url)).exec(target, ['cat'], { input: 'keys *\r\n', timeoutMs: 5000 });
    t.is(r.exitCode, 0);
    t.is(r.stdout, 'keys *\r\n');
    t.false(r.timedOut);
  });

  test(`${protocol}: a dropped connection is no exit status, and says so`, async (t) => {
    const srv = await execServer([protocol]);
    t.teardown(srv.close);
    const r = await new PodExecClient(kubeConfigFor(srv.url)).exec(target, ['drop']);
    t.is(r.exitCode, null);
    t.is(r.stdout, 'half an answer');
    t.regex(r.spawnError ?? '', /connection closed before the exit status \(WebSocket close 1006\)/);
  });
}

test('a command that never ends is cut at timeoutMs', async (t) => {
  const srv = await execServer(['v5.channel.k8s.io']);
  t.teardown(srv.close);
  const r = await new PodExecClient(kubeConfigFor(srv.url)).exec(target, ['hang'], { timeoutMs: 200 });
  t.true(r.timedOut);
  t.is(r.exitCode, null);
  t.is(r.stdout, 'started\n');
  t.true(r.durationMs >= 190);
});

test('no API server listening: a connection error, not an exception', async (t) => {
  const srv = await execServer(['v5.channel.k8s.io']);
  const url = srv.url;
  await srv.close();
  const r = await new PodExecClient(kubeConfigFor(url)).exec(target, ['echo', 'x']);
  t.is(r.exitCode, null);
  t.regex(r.spawnError ?? '', /^exec in default\/toolbox-6d5f\/toolbox: .*ECONNREFUSED/);
});

test('exit status: Success, the ExitCode cause, anything else unknown', (t) => {
  t.is(exitCodeOfStatus(JSON.parse(SUCCESS)), 0);
  t.is(exitCodeOfStatus(JSON.parse(exitStatus(7))), 7);
  t.is(exitCodeOfStatus({ status: 'Failure', reason: 'InternalError', message: 'container not found' }), null);
  t.is(exitCodeOfStatus(undefined), null);
});
