// The download + verify step of istioctl, on local files and a local HTTP server (127.0.0.1):
// a matching checksum extracts bin/istioctl into the cache, a mismatch leaves nothing.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { execOk } from '../../../../src/lab/exec.ts';
import { ChecksumError, ensureIstioctl, sha256File, verifySha256 } from '../../../../src/lab/kind/istioctl-cache.ts';

function scratch(t: { teardown: (f: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'pathlab-istioctl-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('sha256File agrees with sha256sum on the same bytes', async (t) => {
  const d = scratch(t);
  const f = join(d, 'blob');
  writeFileSync(f, Buffer.alloc(300_000, 7));
  const r = await execOk(['sha256sum', f]);
  t.is(await sha256File(f), r.stdout.split(' ')[0] ?? '');
});

test('verifySha256 accepts the right checksum in any case, rejects a wrong one naming both', async (t) => {
  const d = scratch(t);
  const f = join(d, 'istio.tar.gz');
  writeFileSync(f, 'not really an archive\n');
  const good = createHash('sha256').update('not really an archive\n').digest('hex');
  await t.notThrowsAsync(verifySha256(f, good));
  await t.notThrowsAsync(verifySha256(f, good.toUpperCase()));
  const bad = good.replace(/^./, (c) => (c === '0' ? '1' : '0'));
  const e = await t.throwsAsync(verifySha256(f, bad), { instanceOf: ChecksumError });
  t.is(e?.expected, bad);
  t.is(e?.actual, good);
  await t.throwsAsync(verifySha256(f, 'UNPINNED'), { message: /not a sha256/ });
});

/** A release archive shaped like Istio's (istio-<v>/bin/istioctl), served on 127.0.0.1. */
async function releaseServer(t: { teardown: (f: () => void) => void }) {
  const d = scratch(t);
  mkdirSync(join(d, 'istio-9.9.9/bin'), { recursive: true });
  writeFileSync(join(d, 'istio-9.9.9/bin/istioctl'), '#!/bin/sh\necho 9.9.9\n');
  chmodSync(join(d, 'istio-9.9.9/bin/istioctl'), 0o644);
  await execOk(['tar', '-czf', join(d, 'istio.tar.gz'), '-C', d, 'istio-9.9.9']);
  const bytes = readFileSync(join(d, 'istio.tar.gz'));
  const server = createServer((req, res) => {
    if (req.url === '/istio.tar.gz') res.end(bytes);
    else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/istio.tar.gz`;
  return { url, sha256: createHash('sha256').update(bytes).digest('hex') };
}

test('ensureIstioctl downloads, verifies, extracts an executable, and reuses the cache', async (t) => {
  const rel = await releaseServer(t);
  const cache = scratch(t);
  const dest = join(cache, 'istioctl/9.9.9/istioctl');
  const step = { url: rel.url, sha256: rel.sha256, member: 'istio-9.9.9/bin/istioctl', dest };
  const first = await ensureIstioctl(step);
  t.deepEqual(first, { path: dest, downloaded: true });
  const out = await execOk([dest]);
  t.is(out.stdout, '9.9.9\n');
  t.deepEqual(readdirSync(join(cache, 'istioctl/9.9.9')), ['istioctl']);
  const again = await ensureIstioctl({ ...step, url: 'http://127.0.0.1:1/never-fetched' });
  t.false(again.downloaded);
});

test('ensureIstioctl with a wrong checksum leaves nothing in the cache', async (t) => {
  const rel = await releaseServer(t);
  const cache = scratch(t);
  const dest = join(cache, 'istioctl/9.9.9/istioctl');
  const wrong = 'f'.repeat(64);
  await t.throwsAsync(ensureIstioctl({ url: rel.url, sha256: wrong, member: 'istio-9.9.9/bin/istioctl', dest }), { instanceOf: ChecksumError });
  t.false(existsSync(dest));
  t.deepEqual(readdirSync(join(cache, 'istioctl/9.9.9')), []);
});

test('ensureIstioctl on an HTTP error says which URL', async (t) => {
  const rel = await releaseServer(t);
  const cache = scratch(t);
  const url = rel.url.replace('istio.tar.gz', 'missing.tar.gz');
  await t.throwsAsync(ensureIstioctl({ url, sha256: rel.sha256, member: 'x', dest: join(cache, 'istioctl') }), { message: new RegExp(`GET ${url.replace(/[.]/g, '\\.')}: HTTP 404`) });
});
