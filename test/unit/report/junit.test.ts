// JUnit XML as CI systems read it: every fixture run validates with xmllint against the Apache
// Ant JUnit schema (Windy Road's JUnit.xsd, the Apache-2.0 copy the npm package junit-xml@1.2.0
// ships in src/index.test.ts: taken from the installed package, not copied into this project),
// a document the XSD must reject is rejected (the validator can fail), and libxml2 reads back
// the counts, the hop diff and the escaped evidence.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import test from 'ava';
import { DIFF_MARK } from '../../../src/report/hop-diff.ts';
import { formatJunit } from '../../../src/report/junit.ts';
import { ALL_RUNS, checkFaultRun, failingRun, hostileRun, skippedRun } from './fixtures.ts';

/** The schema text from the installed junit-xml package (a single-quoted JS string literal there). */
function antJunitXsd(): string {
  const pkg = createRequire(import.meta.url).resolve('junit-xml/package.json');
  const src = readFileSync(join(dirname(pkg), 'src', 'index.test.ts'), 'utf8');
  const m = /const antJunitSchema = '((?:[^'\\]|\\.)*)';/.exec(src);
  if (!m) throw new Error('junit-xml no longer carries the Ant JUnit schema where this test expects it');
  return m[1]!.replace(/\\(.)/g, '$1');
}
const XSD = join(mkdtempSync(join(tmpdir(), 'pathlab-junit-')), 'ant-junit.xsd');
writeFileSync(XSD, antJunitXsd());
const haveXmllint = spawnSync('xmllint', ['--version']).status === 0;

function validateXml(xml: string): { ok: boolean; stderr: string } {
  const r = spawnSync('xmllint', ['--noout', '--schema', XSD, '-'], { input: xml, encoding: 'utf8' });
  return { ok: r.status === 0, stderr: r.stderr };
}

// xmllint --xpath ends its answer with a newline
const xpath = (xml: string, expr: string): string => execFileSync('xmllint', ['--xpath', expr, '-'], { input: xml, encoding: 'utf8' }).replace(/\n$/, '');

test('xmllint is installed (Debian: apt-get install libxml2-utils; npm test installs it)', (t) => {
  t.true(haveXmllint);
});

for (const [name, report] of ALL_RUNS) {
  test(`junit: the ${name} validates against ${XSD}`, (t) => {
    const { ok, stderr } = validateXml(formatJunit(report));
    t.true(ok, stderr);
  });
}

const invalid: Array<[string, (xml: string) => string]> = [
  ['a testsuite without its required tests attribute', (x) => x.replace(/ tests="\d+"/, '')],
  ['an element the schema does not know', (x) => x.replace('<properties>', '<properties><hop/>')],
  ['a raw BEL in the evidence (not well-formed XML 1.0)', (x) => x.replace('no packet to', '\u0007no packet to')],
  ['a testcase without a name', (x) => x.replace(/(<testcase) name="[^"]*"/, '$1')],
];

for (const [name, breakIt] of invalid) {
  test(`junit: xmllint rejects ${name} (the validator can fail)`, (t) => {
    const xml = formatJunit(failingRun);
    const broken = breakIt(xml);
    t.not(broken, xml);
    t.false(validateXml(broken).ok);
  });
}

test('junit: one suite per scenario, one testcase per probe, counts CI systems add up', (t) => {
  const xml = formatJunit(failingRun);
  t.is(xpath(xml, 'count(/testsuites/testsuite)'), '2');
  t.is(xpath(xml, 'count(//testcase)'), '4');
  t.is(xpath(xml, 'sum(/testsuites/testsuite/@failures)'), '1');
  t.is(xpath(xml, 'string(//testsuite[@name="incident-7000-fix-serviceentry"]/@failures)'), '1');
  t.is(xpath(xml, 'string(//testcase[failure]/@classname)'), 'incident-7000-fix-serviceentry');
  t.is(xpath(xml, 'string(//testcase[failure]/@time)'), '1.203');
});

test('junit: the failure message names the first differing hop; its text is the hop diff with the mark', (t) => {
  const xml = formatJunit(failingRun);
  t.is(xpath(xml, 'string(//failure/@type)'), 'PathMismatch');
  t.regex(xpath(xml, 'string(//failure/@message)'), /^first differing hop, expected #2: envoy listener=virtualOutbound cluster=PassthroughCluster — observed envoy listener=virtualOutbound -> listener=0\.0\.0\.0_7000/);
  const text = xpath(xml, 'string(//failure)');
  const marked = text.split('\n').find((l) => l.trimStart().startsWith(DIFF_MARK));
  t.regex(marked ?? '', /▶ envoy listener=virtualOutbound cluster=PassthroughCluster +│ envoy listener=virtualOutbound -> listener=0\.0\.0\.0_7000 chain=#2/);
  t.true(xpath(xml, 'string(//testsuite[testcase/failure]/system-out)').includes('sport=15001 dport=50498'));
});

test('junit: a skipped scenario is one testcase named [skipped] with the reason as a suite property (Ant has no <skipped>)', (t) => {
  const xml = formatJunit(skippedRun);
  t.is(xpath(xml, 'string(//testsuite[@name="bookinfo-productpage-reviews-ratings"]/testcase/@name)'), '(scenario) [skipped]');
  t.regex(xpath(xml, 'string(//testsuite[@name="bookinfo-productpage-reviews-ratings"]/properties/property[@name="skipped.1"]/@value)'), /^needs the kind backend/);
  t.is(xpath(xml, 'string(//testsuite[@name="bookinfo-productpage-reviews-ratings"]/@failures)'), '0');
});

test('junit: --check-fault adds a testcase per scenario that fails only when the scenario passed without its fault', (t) => {
  const xml = formatJunit(checkFaultRun);
  t.is(xpath(xml, 'count(//testcase[@name="fails without its fault"])'), '2');
  t.is(xpath(xml, 'count(//testcase[@name="fails without its fault"][failure])'), '1');
  t.is(xpath(xml, 'string(//testcase[@name="fails without its fault"][failure]/@classname)'), 'incident-7000-registry-only-7003');
  t.is(xpath(xml, 'string(//testcase[@name="fails without its fault"]/failure/@type)'), 'PassedWithoutFault');
});

test('junit: markup is escaped and bytes XML 1.0 forbids are replaced by visible escapes', (t) => {
  const xml = formatJunit(hostileRun);
  // eslint-disable-next-line no-control-regex -- the point: none of these may reach the file
  t.notRegex(xml, /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
  t.is(xpath(xml, 'string(//failure/../@name)'), 'redis-7000-answers-noauth');
  t.true(xpath(xml, 'string(//failure)').startsWith('\nincident-7000/outage · app → 10.0.0.6:7000 <&"\'>'));
  t.true(xpath(xml, 'string(//property[starts-with(@name, "skipped.")]/@value)').includes('sidecar not ready \\x07 after 3 retries'));
  t.true(xpath(xml, 'string(//failure)').includes('the reply began with ESC \\x1b and NUL \\x00'));
  t.true(xpath(xml, 'string(//system-out)').includes('\\x1b[31mred\\x1b[0m \\x00 bell\\x07 ]]> </system-out> & "q"'));
});
