// istioctl on first use: the pinned Istio release archive is downloaded into the cache,
// its sha256 compared with the published checksum pinned in versions.ts, and only then is
// bin/istioctl extracted. Nothing is piped to a shell; a mismatch leaves nothing behind.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { pipeline } from 'node:stream/promises';
import { homedir } from 'node:os';
import { execOk } from '../exec.ts';
import { UNPINNED } from './versions.ts';

export const defaultCacheDir = () => process.env.PATHLAB_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'pathlab');

export class ChecksumError extends Error {
  override name = 'ChecksumError';
  constructor(
    readonly file: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`sha256 of ${file} is ${actual}, expected ${expected}: the download is not the pinned release (removed)`);
  }
}

/** The sha256 of a file, hex. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

/** Throws ChecksumError unless the file's sha256 is `expected` (hex, any case). */
export async function verifySha256(path: string, expected: string): Promise<void> {
  if (!/^[0-9a-f]{64}$/i.test(expected)) throw new Error(`not a sha256: "${expected}"`);
  const actual = await sha256File(path);
  if (actual !== expected.toLowerCase()) throw new ChecksumError(path, expected.toLowerCase(), actual);
}

export interface FetchStep {
  url: string;
  sha256: string;
  member: string;
  dest: string;
}

/**
 * Makes sure `dest` holds the pinned istioctl: returns at once when it exists, else
 * downloads, verifies and extracts. `fetchImpl` is the transport seam (global fetch).
 */
export async function ensureIstioctl(step: FetchStep, fetchImpl: typeof fetch = fetch): Promise<{ path: string; downloaded: boolean }> {
  if (existsSync(step.dest)) return { path: step.dest, downloaded: false };
  if (step.sha256 === UNPINNED || step.url === '') throw new Error(`istioctl is not pinned for this platform (${step.dest})`);
  mkdirSync(dirname(step.dest), { recursive: true });
  const tmp = mkdtempSync(join(dirname(step.dest), '.fetch-'));
  try {
    const archive = join(tmp, 'archive.tar.gz');
    const res = await fetchImpl(step.url, { redirect: 'follow' });
    if (!res.ok || !res.body) throw new Error(`GET ${step.url}: HTTP ${res.status}`);
    await pipeline(Readable.fromWeb(res.body as WebReadableStream), createWriteStream(archive));
    await verifySha256(archive, step.sha256);
    await execOk(['tar', '-xzf', archive, '-C', tmp, step.member]);
    const bin = join(tmp, step.member);
    chmodSync(bin, 0o755);
    renameSync(bin, step.dest);
    return { path: step.dest, downloaded: true };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
