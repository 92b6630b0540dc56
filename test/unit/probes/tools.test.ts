// Each tool's reading of what it really printed (test/data/probes/outcomes: nc and curl against
// a refusing port, a dropping port and a resetting server, recorded on this machine), and the
// argv each tool builds. The names come from what was done to the connection, not from the code.
import { readFileSync } from 'node:fs';
import test from 'ava';
import { TOOLS } from '../../../src/probes/index.ts';
import { outcomeOf } from '../../../src/probes/outcome.ts';
import type { ProcessResult } from '../../../src/probes/process-result.ts';

const recorded = (name: string): ProcessResult => ({ where: 'test', durationMs: 0, ...JSON.parse(readFileSync(`test/data/probes/outcomes/${name}.json`, 'utf8')) });

const cases = [
  { file: 'nc-refused', tool: TOOLS.nc, failure: 'refused', outcome: 'refused' },
  { file: 'nc-timeout', tool: TOOLS.nc, failure: 'timeout', outcome: 'timeout' },
  // netcat-openbsd does not report a reset after connect: nothing read, exit 0.
  { file: 'nc-reset', tool: TOOLS.nc, failure: undefined, outcome: 'closed' },
  { file: 'curl-refused', tool: TOOLS.curl, failure: 'refused', outcome: 'refused' },
  { file: 'curl-timeout', tool: TOOLS.curl, failure: 'timeout', outcome: 'timeout' },
  { file: 'curl-reset', tool: TOOLS.curl, failure: 'reset', outcome: 'reset' },
] as const;

for (const c of cases) {
  test(`${c.file}: ${c.outcome}`, (t) => {
    const reading = c.tool.read(recorded(c.file));
    t.is(reading.failure, c.failure);
    t.is(reading.body, '', 'the trailer is not part of what the client read');
    t.is(outcomeOf(reading, true), c.outcome);
  });
}

test('tcp and http are nc and curl under the names that say what they check', (t) => {
  t.is(TOOLS.tcp.read, TOOLS.nc.read);
  t.is(TOOLS.http.read, TOOLS.curl.read);
});

test('curl: the status and body of a real answer (the toolbox → productpage probe)', (t) => {
  const r: ProcessResult = { where: 'test', durationMs: 0, ...JSON.parse(readFileSync('test/data/probes/productpage-details/probe-1.json', 'utf8')) };
  const reading = TOOLS.curl.read(r);
  t.is(reading.httpStatus, 200);
  t.true(reading.body.startsWith('<html><head><title>Simple Bookstore App</title>'));
  t.false(reading.body.includes('__pathlab__'));
});

test('nc: the seed 003 outage answer is an HTTP error from a raw client', (t) => {
  const r: ProcessResult = { where: 'test', durationMs: 0, ...JSON.parse(readFileSync('test/data/probes/outage-legacy/probe-1.json', 'utf8')) };
  const reading = TOOLS.nc.read(r);
  t.is(reading.failure, undefined);
  t.is(outcomeOf(reading, false), 'http-error');
});

test('pod-state tools check their own output: ss sockets and iptables-save rules in order', (t) => {
  const ss = 'LISTEN 0      4096       0.0.0.0:15001      0.0.0.0:*    uid:1337 ino:1 sk:1\nLISTEN 0      511      127.0.0.1:15000      0.0.0.0:*    uid:1337 ino:2 sk:2\n';
  t.deepEqual(TOOLS.ss.check(ss, { listening: [{ address: '0.0.0.0', port: 15001, uid: 1337 }] }), []);
  t.deepEqual(TOOLS.ss.check(ss, { listening: [{ address: '0.0.0.0', port: 15000 }] }), ['nothing listens on 0.0.0.0:15000']);
  const save = readFileSync('test/data/probes/outage-legacy/app.iptables-save.txt', 'utf8');
  t.deepEqual(TOOLS['iptables-save'].check(save, { rules: ['-A OUTPUT -p tcp -j ISTIO_OUTPUT', '-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001'] }), []);
  t.deepEqual(TOOLS['iptables-save'].check(save, { rules: ['-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001', '-A OUTPUT -p tcp -j ISTIO_OUTPUT'] }), ['rule not found (in order): -A OUTPUT -p tcp -j ISTIO_OUTPUT']);
});

test('curl takes the scenario\'s path literally: no URL globbing of [] and {}', (t) => {
  const { argv } = TOOLS.curl.argv({ target: { ip: '10.96.0.10', port: 9080, name: 'details' }, path: '/details/[0-9]{a,b}', timeoutMs: 3000 });
  t.true(argv.includes('--globoff'));
  t.is(argv.at(-1), 'http://details:9080/details/[0-9]{a,b}');
});

test('curl dials a name at the address the lab resolved and checked (--resolve), not at what DNS answers later', (t) => {
  const byName = TOOLS.curl.argv({ target: { ip: '10.96.0.10', port: 9080, name: 'details' }, timeoutMs: 3000 }).argv;
  t.deepEqual(byName.slice(byName.indexOf('--resolve'), byName.indexOf('--resolve') + 2), ['--resolve', 'details:9080:10.96.0.10']);
  t.false(TOOLS.curl.argv({ target: { ip: '10.96.0.10', port: 9080, name: '10.96.0.10' }, timeoutMs: 3000 }).argv.includes('--resolve'));
});
