// The HTML report of a real run, opened in a real browser: Debian's chromium, driven headless by
// playwright-core (no browser download). The run is seed 003 on the netns lab with the
// expectation its engineers had: 7000 reaches redis (it does not: the 400) and 7003 reaches
// redis (it does). From the page's DOM: the failed probe's drawing carries the observed hops in
// order, the one marked row is the first difference the JSON report names, in the Envoy lane,
// drawn red; the must-not hop that was seen is a red cross; the passing probe has no mark; a
// click on the marked hop opens its evidence; the failed probe's evidence bundle is linked, file
// by file. The page is valid HTML and makes no request at all. The screenshot is saved beside the report (under
// out/html-report in CI, for the job's artifacts).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HtmlValidate } from 'html-validate';
import { chromium } from 'playwright-core';
import type { RunReport } from '../../src/paths/verdict.ts';
import { NEEDS_ROOT, netnsTest } from '../helpers/caps.ts';

const CHROMIUM = '/usr/bin/chromium';
const keep = process.env.CI !== undefined;
const out = keep ? resolve('out/html-report') : mkdtempSync(join(tmpdir(), 'pathlab-html-'));
if (!keep) process.on('exit', () => rmSync(out, { recursive: true, force: true }));

/** The browser's globals the page functions below use (this file is type-checked without the DOM's types). */
interface Browser {
  getComputedStyle(e: unknown): { stroke: string };
  document: { getElementById(id: string): { tagName: string; open?: boolean } | null };
  location: { hash: string };
}

interface Mark {
  series: string;
  hop: string;
  expected: string | null;
  lane: string;
  marked: boolean;
}

netnsTest(`${NEEDS_ROOT} the HTML report of a real seed 003 run, in headless Chromium: the drawn path, the marked difference, no request`, async (t) => {
  t.true(existsSync(CHROMIUM), `${CHROMIUM} is missing: npm run system-deps installs Debian's chromium`);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const run = spawnSync(process.execPath, ['bin/pathlab.js', 'run', 'test/data/report/seed003-expects-redis.yaml', '--reporter', 'html', '--reporter', 'json', '--out', out], { encoding: 'utf8', timeout: 120_000 });
  t.is(run.status, 1, `one probe fails: ${run.stderr}`);
  const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as RunReport;
  const [failed, passed] = report.scenarios[0]!.probes;
  t.is(failed?.status, 'failed');
  t.is(passed?.status, 'passed');
  // What the kernel and Envoy did (seed 003, Istio 1.5): the 7000 listener took the connection.
  t.true(failed!.observed.some((h) => h.startsWith('envoy listener=virtualOutbound -> listener=0.0.0.0_7000')), failed!.observed.join('\n'));

  // Valid HTML5 (inline SVG included) by html-validate's recommended rules.
  const checked = await new HtmlValidate({ extends: ['html-validate:recommended'] }).validateString(readFileSync(join(out, 'report.html'), 'utf8'));
  t.deepEqual(checked.results.flatMap((r) => r.messages.map((m) => `${m.line}:${m.column} ${m.ruleId}: ${m.message}`)), []);

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    const url = pathToFileURL(join(out, 'report.html')).href;
    await page.goto(url, { waitUntil: 'load' });
    t.deepEqual(requests, [url], 'the page loads nothing but itself');

    const marksOf = (probe: string) =>
      page.$$eval(`article[data-probe="${probe}"] svg g.hop`, (gs) =>
        gs.map((g) => ({ series: g.getAttribute('data-series') ?? '', hop: g.getAttribute('data-hop') ?? '', expected: g.getAttribute('data-expected'), lane: g.getAttribute('data-lane') ?? '', marked: g.getAttribute('data-marked') === 'true' })),
      );
    const failedMarks: Mark[] = await marksOf(failed!.probe);
    t.deepEqual(failedMarks.filter((m) => m.series !== 'expected').map((m) => m.hop), failed!.observed, 'the observed hops, in order');
    t.deepEqual(failedMarks.flatMap((m) => (m.expected === null ? [] : [m.expected])), failed!.expected, 'the expected hops, in order');
    const marked = failedMarks.filter((m) => m.marked);
    t.is(marked.length, 1);
    t.is(marked[0]!.hop, failed!.firstDifference!.observed!);
    t.is(marked[0]!.expected, failed!.firstDifference!.expected);
    t.is(marked[0]!.lane, 'envoy');
    // The mark is drawn red, and the band behind it is on screen.
    const stroke = await page.locator(`article[data-probe="${failed!.probe}"] g.hop[data-marked="true"] circle`).first().evaluate((c) => (globalThis as unknown as Browser).getComputedStyle(c).stroke);
    t.is(stroke, 'rgb(220, 38, 38)');
    const band = await page.locator(`article[data-probe="${failed!.probe}"] rect.difference`).boundingBox();
    t.true(band !== null && band.width > 100 && band.height > 10);
    // The must-not hop the sidecar took is a red cross, seen.
    const cross = await page.locator(`article[data-probe="${failed!.probe}"] g.must-not`).evaluate((g) => ({ hop: g.getAttribute('data-hop'), seen: g.getAttribute('data-seen'), color: (globalThis as unknown as Browser).getComputedStyle(g.querySelector('path')).stroke }));
    t.deepEqual(cross, { hop: 'envoy listener=0.0.0.0_7000', seen: 'true', color: 'rgb(220, 38, 38)' });

    const passedMarks: Mark[] = await marksOf(passed!.probe);
    t.false(passedMarks.some((m) => m.marked));
    t.true(passedMarks.some((m) => m.hop === 'wire iface=eth0 dst=10.0.0.6:7003'));

    // A click on the marked hop opens the evidence behind it.
    await page.click(`article[data-probe="${failed!.probe}"] g.hop[data-marked="true"]`);
    const opened = await page.evaluate(() => {
      const w = globalThis as unknown as Browser;
      const el = w.document.getElementById(decodeURIComponent(w.location.hash.slice(1)));
      return el?.tagName === 'DETAILS' && el.open === true;
    });
    t.true(opened, 'the evidence the hop links to is open');

    // The failed probe's evidence bundle is linked, each link a file of it; the passing probe has none.
    const links = await page.locator(`article[data-probe="${failed!.probe}"] ul.bundle a`).evaluateAll((as) => as.map((a) => a.getAttribute('href') ?? ''));
    t.deepEqual(links.map(decodeURIComponent), failed!.bundle!.files.map((f) => f.path));
    for (const l of links) t.true(existsSync(join(out, decodeURIComponent(l))), l);
    t.true(links.some((l) => l.endsWith('.pcap')) && links.some((l) => l.endsWith('.config_dump.json')));
    t.is(await page.locator(`article[data-probe="${passed!.probe}"] ul.bundle`).count(), 0);

    await page.screenshot({ path: join(out, 'report.png'), fullPage: true });
    await page.locator(`article[data-probe="${failed!.probe}"] svg`).screenshot({ path: join(out, 'failed-probe.png') });
    t.true(existsSync(join(out, 'report.png')));
  } finally {
    await browser.close();
  }
});
