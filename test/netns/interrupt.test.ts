// `pathlab run` stopped by SIGINT (Ctrl-C) or SIGTERM (a CI job's timeout) once a scenario has
// finished: it tears its labs down, writes the report of what finished with the rest marked
// interrupted, and exits 130 / 143. The run uses a prefix of its own (PATHLAB_PREFIX), so what it
// leaves behind, if anything, is seen apart from every other lab on the machine.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import type { RunReport } from '../../src/paths/verdict.ts';
import { NEEDS_ROOT, netnsTest } from '../helpers/caps.ts';

const namespacesOf = (prefix: string) => spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.startsWith(`${prefix}-`));

async function interrupt(t: ExecutionContext, signal: 'SIGINT' | 'SIGTERM', prefix: string, code: number): Promise<void> {
  const out = mkdtempSync(join(tmpdir(), 'pathlab-interrupt-'));
  try {
    const child = spawn(process.execPath, ['bin/pathlab.js', 'run', 'scenarios/', '--reporter', 'json', '--out', out], { env: { ...process.env, PATHLAB_PREFIX: prefix }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let sent = false;
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (!sent && /^[✔✘] \S+ \d+\.\ds$/m.test(stderr)) {
        sent = true;
        child.kill(signal);
      }
    });
    const exit = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    t.true(sent, `a scenario finished before the signal: ${stderr}`);
    t.is(exit, code, stderr);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as RunReport;
    const interrupted = report.scenarios.filter((s) => s.reason === `interrupted (${signal})`);
    t.true(report.scenarios.some((s) => s.status === 'passed'), 'what finished is in the report');
    t.true(interrupted.length > 0, 'the rest is marked interrupted');
    t.is(report.summary.failed, 0, 'nothing is reported failed for being interrupted');
    t.deepEqual(namespacesOf(prefix), [], 'no namespace of the run is left');
    const state = join('/run/pathlab', prefix);
    // The bundled agents' cache is shared by every lab of the prefix; a lab's own record and folder are named by its id.
    t.deepEqual((existsSync(state) ? readdirSync(state) : []).filter((e) => /^[0-9a-f]{6}(\.json)?$/.test(e)), [], 'no lab record or folder is left');
  } finally {
    rmSync(out, { recursive: true, force: true });
    for (const ns of namespacesOf(prefix)) spawnSync('ip', ['netns', 'del', ns]);
    rmSync(join('/run/pathlab', prefix), { recursive: true, force: true });
  }
}

netnsTest(`${NEEDS_ROOT} SIGINT during pathlab run: labs torn down, the report of what finished written, exit 130`, (t) => interrupt(t, 'SIGINT', 'plsi', 130));
netnsTest(`${NEEDS_ROOT} SIGTERM during pathlab run: the same, exit 143`, (t) => interrupt(t, 'SIGTERM', 'plst', 143));

netnsTest(`${NEEDS_ROOT} a second SIGTERM removes the run's labs at once, without waiting for the probe under way`, async (t) => {
  const prefix = 'plsd';
  try {
    const child = spawn(process.execPath, ['bin/pathlab.js', 'run', 'scenarios/'], { env: { ...process.env, PATHLAB_PREFIX: prefix }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let sent = 0;
    const onData = (d: string) => {
      out += d;
      // Once a lab is up (its namespaces exist), twice.
      if (sent === 0 && namespacesOf(prefix).length > 0) {
        sent = 2;
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGTERM'), 50);
      }
    };
    const poll = setInterval(() => onData(''), 20);
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', onData);
    const exit = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    clearInterval(poll);
    t.is(sent, 2, out);
    t.is(exit, 143, out);
    t.deepEqual(namespacesOf(prefix), [], 'no namespace of the run is left');
  } finally {
    for (const ns of namespacesOf(prefix)) spawnSync('ip', ['netns', 'del', ns]);
    rmSync(join('/run/pathlab', prefix), { recursive: true, force: true });
  }
});
