// The HTML report and its path drawing, from the report alone: the drawing's marks are the
// probe's hops in path order, each in the lane of the place it happens, the first difference
// is the one marked row, must-not hops are crosses (red when seen); the page is valid HTML
// (html-validate), each drawing well-formed XML, neither carries a raw control character, and
// the page forbids every request.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { HtmlValidate } from 'html-validate';
import { join } from 'node:path';
import { formatHtml } from '../../../src/report/html.ts';
import { lanesOf, probeDiagram, renderDiagram, rowLanes, type DiagramRow } from '../../../src/report/path-diagram.ts';
import { collectScenarioFiles } from '../../../src/scenario/collect.ts';
import { loadScenarioFile } from '../../../src/scenario/loader.ts';
import { formatHop } from '../../../src/paths/hop.ts';
import { repoRoot } from '../../helpers/fixtures.ts';
import { htmlHops } from '../../helpers/printed-hops.ts';
import { ALL_RUNS, checkFaultRun, failingRun, hostileRun, mustNotRun, probe7000LeftPod, probe7000StillBroken } from './fixtures.ts';

const svgsOf = (html: string): string[] => [...html.matchAll(/<svg[\s\S]*?<\/svg>/g)].map((m) => m[0]);
const attr = (tag: string, name: string): string | undefined => {
  const v = new RegExp(` ${name}="([^"]*)"`).exec(tag)?.[1];
  return v === undefined ? undefined : htmlHops(` data-hop="${v}"`)[0];
};

test('lanes: the bookinfo call from outside to productpage, which calls on (a catalogue path)', (t) => {
  const r = loadScenarioFile(join(repoRoot, 'scenarios/bookinfo/productpage-details.yaml'));
  if (!r.ok) return t.fail(JSON.stringify(r.problems));
  const path = r.expected[0]!.path.map(formatHop);
  t.deepEqual(lanesOf(path), ['kernel', 'envoy', 'kernel', 'wire', 'peer kernel', 'peer kernel', 'peer kernel', 'peer kernel']);
});

test('lanes: the seed 003 outage comes back to the app; an unparsable hop keeps the lane before it', (t) => {
  t.deepEqual(lanesOf(['iptables nat/OUTPUT#1 -> nat/ISTIO_OUTPUT#9 -> nat/ISTIO_REDIRECT#1 REDIRECT:15001', 'envoy listener=virtualOutbound -> listener=0.0.0.0_7000', 'reply "HTTP/1.1 400 Bad Request"']), ['kernel', 'envoy', 'app']);
  t.deepEqual(lanesOf(['envoy listener=virtualInbound', 'app pod=details port=9080', 'not a hop']), ['peer envoy', 'peer app', 'peer app']);
  t.deepEqual(lanesOf(['wire iface=eth0 dst=10.0.0.6:7000', 'envoy listener=virtualOutbound']), ['wire', 'peer envoy']);
});

test('one lane per row: a hop both series name is one mark, whatever hops only one of them has before it', (t) => {
  // local-to-local (the catalogue's expected path), observed with an inbound listener hop the expectation leaves out.
  const r = loadScenarioFile(join(repoRoot, 'scenarios/traffic-types/local-to-local.yaml'));
  if (!r.ok) return t.fail(JSON.stringify(r.problems));
  const expected = r.expected[0]!.path.map(formatHop);
  const observed = [...expected.slice(0, 3), 'envoy listener=virtualInbound', ...expected.slice(3)];
  const rows: DiagramRow[] = [...expected.slice(0, 3).map((h) => ({ expected: h, observed: h })), { observed: observed[3]! }, ...expected.slice(3).map((h) => ({ expected: h, observed: h }))];
  for (const [i, l] of rowLanes(rows).entries()) if (rows[i]!.expected !== undefined) t.is(l.expected, l.observed, rows[i]!.expected);
});

test('every inbound must-not hop of the catalogue is drawn on the receiving side', (t) => {
  const inbound = /PREROUTING|INBOUND|IN_REDIRECT|TPROXY/;
  let n = 0;
  for (const f of collectScenarioFiles([join(repoRoot, 'scenarios')]).files) {
    const r = loadScenarioFile(f);
    if (!r.ok) continue;
    for (const hop of r.expected.flatMap((e) => e.notPath.map(formatHop)).filter((h) => h.startsWith('iptables ') && inbound.test(h.split(' -> ')[0]!))) {
      n++;
      t.is(lanesOf([hop])[0], 'peer kernel', `${f}: ${hop}`);
    }
  }
  t.true(n >= 5, `${n} inbound must-not hops in the catalogue`);
});

test('html of a --check-fault run: failing without the change is the good outcome (✔), passing without it is listed to look at', (t) => {
  const html = formatHtml(checkFaultRun);
  const sections = [...html.matchAll(/<section class="scenario"[^>]*>/g)].map((m) => m[0]);
  for (const s of checkFaultRun.scenarios.filter((x) => x.mode === 'without-change')) {
    const tag = sections.find((x) => x.includes(`data-scenario="${s.name}"`) && x.includes('data-mode="without-change"'))!;
    t.is(attr(tag, 'data-verdict'), s.status === 'failed' ? 'passed' : 'failed', s.name);
  }
  const toc = /<ul class="toc">([\s\S]*?)<\/ul>/.exec(html)?.[1] ?? '';
  const bad = checkFaultRun.scenarios.filter((x) => x.mode === 'without-change' && x.status === 'passed');
  for (const s of bad) t.true(toc.includes(`${s.name} (without its change)`), toc);
  t.false(checkFaultRun.scenarios.some((x) => x.mode === 'without-change' && x.status === 'failed' && toc.includes(`${x.name} (without its change)`)));
});

test('the drawing of a failed probe: its hops in order, the first difference the one marked row, facing the observed hop', (t) => {
  const svg = renderDiagram(probeDiagram(probe7000StillBroken));
  const marks = [...svg.matchAll(/<g class="hop"[^>]*>/g)].map((m) => m[0]);
  t.is(marks.length, 4);
  const marked = marks.filter((g) => attr(g, 'data-marked') === 'true');
  t.is(marked.length, 1);
  const fd = probe7000StillBroken.firstDifference!;
  t.is(attr(marked[0]!, 'data-hop'), fd.observed!);
  t.is(attr(marked[0]!, 'data-expected'), fd.expected);
  t.is(attr(marked[0]!, 'data-lane'), 'envoy');
  t.is(spawnSync('xmllint', ['--noout', '-'], { input: svg }).status, 0);
});

test('must-not hops are crosses, seen or not', (t) => {
  const svg = renderDiagram(probeDiagram(probe7000LeftPod));
  const crosses = [...svg.matchAll(/<g class="must-not"[^>]*>/g)].map((m) => m[0]);
  t.deepEqual(crosses.map((g) => attr(g, 'data-hop')), probe7000LeftPod.notExpected);
  t.deepEqual(crosses.map((g) => attr(g, 'data-seen')), probe7000LeftPod.notExpected.map((h) => String(probe7000LeftPod.notExpectedSeen.includes(h))));
  t.true(crosses.some((g) => attr(g, 'data-seen') === 'true'));
});

for (const [name, report] of ALL_RUNS) {
  test(`html of the ${name}: valid HTML, well-formed drawings, one per probe with hops, no raw control characters`, async (t) => {
    const html = formatHtml(report);
    // eslint-disable-next-line no-control-regex -- the point is that none is there
    t.false(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(html));
    const drawn = report.scenarios.flatMap((s) => s.probes).filter((p) => p.expected.length || p.observed.length || p.notExpected.length);
    const svgs = svgsOf(html);
    t.is(svgs.length, drawn.length);
    for (const svg of svgs) t.is(spawnSync('xmllint', ['--noout', '-'], { input: svg }).status, 0);
    t.true(html.includes(`content="default-src 'none';`));
    // HTML5, inline SVG included, by html-validate's recommended rules.
    const checked = await new HtmlValidate({ extends: ['html-validate:recommended'] }).validateString(html);
    t.deepEqual(checked.results.flatMap((r) => r.messages.map((m) => `${m.line}:${m.column} ${m.ruleId}: ${m.message}`)), []);
  });
}

test('html: what the scenario file and the tools wrote is text, never markup', (t) => {
  const html = formatHtml(hostileRun);
  t.true(html.includes('app → 10.0.0.6:7000 &lt;&amp;&quot;&#39;&gt;'));
  t.false(html.includes('</system-out>'));
  t.true(html.includes('\\x1b[31mred'));
});

test('html: the failed probes are listed first, each linking to its drawing; each hop links to its evidence', (t) => {
  const html = formatHtml(failingRun);
  const failed = failingRun.scenarios.flatMap((s) => s.probes.filter((p) => p.status === 'failed'));
  const toc = /<ul class="toc">([\s\S]*?)<\/ul>/.exec(html)?.[1] ?? '';
  const links = [...toc.matchAll(/href="#([^"]+)"/g)].map((m) => m[1]!);
  t.is(links.length, failed.length);
  for (const id of links) t.true(html.includes(`<article class="probe" id="${id}"`));
  // Every link from a hop leads to an element of the page.
  const hrefs = [...html.matchAll(/<a href="#([^"]+)"><g class="(?:hop|must-not)"/g)].map((m) => m[1]!);
  t.true(hrefs.length > 0);
  for (const id of hrefs) t.true(html.includes(` id="${id}"`), id);
  t.is(formatHtml(mustNotRun).match(/data-marked="true"/g)?.length, 1);
});

test('html: markup in a hop (a route an EnvoyFilter names), an evidence hop, a bundle file is text, never markup', (t) => {
  const evil = '<script>alert(1)</script>';
  const hop = `envoy listener=virtualOutbound route=${JSON.stringify(`r${evil}`)}`;
  const s0 = failingRun.scenarios.find((s) => s.status === 'failed')!;
  const p0 = s0.probes.find((p) => p.status === 'failed')!;
  const p = { ...p0, expected: [...p0.expected, hop], observed: [...p0.observed, hop], matched: [...p0.matched, p0.observed.length], evidence: [{ source: `tcpdump ${evil}`, lines: [evil], hop }], bundle: { dir: `evidence/x${evil}`, files: [{ path: `evidence/x/${evil}.pcap`, what: evil }] } };
  const html = formatHtml({ ...failingRun, scenarios: [{ ...s0, name: `s${evil}`, file: evil, probes: [p] }] });
  t.false(html.includes('<script>alert'), 'no raw script tag from the data');
  t.is(html.match(/<script>/g)?.length, 1, 'only the page\'s own script');
  t.true(htmlHops(html).includes(hop), 'the hop is drawn, its text intact');
  const href = /<ul class="bundle">\s*<li><a href="([^"]*)"/.exec(html)?.[1] ?? '';
  t.is(decodeURI(href.replace(/%2F/gi, '/')), `evidence/x/${evil}.pcap`, href);
  t.false(href.includes('<'));
});
