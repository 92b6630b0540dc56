// The HTML report: one self-contained file (inline style, inline SVG, one small inline script,
// a Content-Security-Policy that forbids every request), rendered from the run report alone.
// A summary, the failed probes listed first with links, then per scenario and probe the path
// drawing (expected and observed together, the first difference marked, must-not hops crossed),
// each hop a click away from its evidence, and the failed probe's evidence bundle linked.
import { outcomeOf, unprobed, type Evidence, type ProbeResult, type RunReport, type ScenarioResult } from '../paths/verdict.ts';
import { MARK, seconds, summaryLine } from './console.ts';
import { firstDifferenceLine } from './hop-diff.ts';
import { esc, probeDiagram, renderDiagram } from './path-diagram.ts';


/** An id fit for a fragment: the scenario's and probe's names are kebab-case, the mode tells --check-fault's runs apart. */
const idOf = (...parts: string[]): string => parts.join('--').replace(/[^A-Za-z0-9_-]/g, '_');

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 24px; color: #111827; background: #f9fafb; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 8px; }
h3 { font-size: 14px; margin: 0 0 6px; font-family: ui-monospace, Menlo, Consolas, monospace; }
.meta, .dim { color: #6b7280; font-size: 13px; }
.summary { font-size: 15px; margin: 10px 0; }
.passed { color: #15803d; } .failed { color: #b91c1c; } .skipped { color: #a16207; }
article.probe { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 12px 14px; margin: 10px 0; }
article.probe[data-status="failed"] { border-left: 4px solid #dc2626; }
article.probe[data-status="passed"] { border-left: 4px solid #16a34a; }
.diagram { overflow-x: auto; margin: 8px 0; }
.difference-line { color: #b91c1c; font-weight: 600; }
pre { background: #f3f4f6; padding: 8px; border-radius: 4px; overflow-x: auto; font-size: 12px; margin: 4px 0; }
details { margin: 4px 0; } summary { cursor: pointer; font-size: 13px; }
details:target, details.target { outline: 2px solid #2563eb; border-radius: 4px; }
ul.bundle { font-size: 13px; } ul.toc { font-size: 13px; }
code { font-size: 12px; }
`;

/** Opens the evidence a hop links to (a details element) when its link is followed. */
const SCRIPT = `
function openTarget() {
  var el = location.hash && document.getElementById(location.hash.slice(1));
  if (el && el.tagName === 'DETAILS') { el.open = true; el.classList.add('target'); el.scrollIntoView({ block: 'center' }); }
}
window.addEventListener('hashchange', openTarget);
openTarget();
`;

function evidenceBlock(e: Evidence, id: string): string {
  const head = `${esc(e.source)}${e.hop !== undefined ? ` <span class="dim">(${esc(e.hop)})</span>` : ''}`;
  return `<details class="evidence" id="${id}"${e.hop !== undefined ? ` data-hop="${esc(e.hop)}"` : ''}><summary>${head}</summary><pre>${e.lines.map(esc).join('\n')}</pre></details>`;
}

function probeSection(s: ScenarioResult, p: ProbeResult): string {
  const pid = idOf(s.name, s.mode, p.probe);
  const evId = (i: number): string => `${pid}--ev-${i}`;
  // A hop's link: the first evidence entry tied to it, else the probe's evidence list.
  const href = (hop: string): string | undefined => {
    const i = p.evidence.findIndex((e) => e.hop === hop);
    return i >= 0 ? `#${evId(i)}` : p.evidence.length ? `#${pid}--evidence` : undefined;
  };
  const out: string[] = [];
  out.push(`<article class="probe" id="${pid}" data-status="${p.status}" data-probe="${esc(p.probe)}">`);
  out.push(`<h3><span class="${p.status}">${MARK[p.status]}</span> ${esc(p.title)} <span class="dim">[${esc(p.probe)}] ${seconds(p.durationMs)}</span></h3>`);
  if (p.reason) out.push(`<div>${esc(p.reason)}</div>`);
  const fd = firstDifferenceLine(p);
  if (fd) out.push(`<div class="difference-line">${esc(fd)}</div>`);
  if (p.outcome !== undefined || p.reply !== undefined) {
    out.push(`<div class="dim">outcome: ${esc(p.outcome ?? '?')}${p.reply !== undefined ? `, reply <code>${esc(JSON.stringify(p.reply))}</code>` : ''}</div>`);
  }
  if (p.expected.length || p.observed.length || p.notExpected.length) out.push(`<div class="diagram">${renderDiagram(probeDiagram(p, href))}</div>`);
  if (p.predicted.length) {
    const agree = p.explainAgrees === undefined ? '' : p.explainAgrees ? ' (its Envoy hop is the one the sidecar logged)' : ' (its Envoy hop is NOT the one the sidecar logged)';
    out.push(`<details class="predicted"><summary>predicted by explain${esc(agree)}</summary><pre>${p.predicted.map(esc).join('\n')}</pre></details>`);
  }
  for (const gap of p.predictionGaps) out.push(`<div class="dim">prediction gap (explain predicted it, nothing observed matches it): <code>${esc(gap)}</code></div>`);
  for (const r of p.retries) out.push(`<div class="dim">retried: ${esc(r)}</div>`);
  if (p.bundle) {
    out.push(`<div>evidence bundle <code>${esc(p.bundle.dir)}</code>:</div><ul class="bundle">`);
    for (const f of p.bundle.files) out.push(`<li><a href="${esc(f.path.split('/').map(encodeURIComponent).join('/'))}">${esc(f.path.slice(f.path.lastIndexOf('/') + 1))}</a> <span class="dim">${esc(f.what)}</span></li>`);
    out.push('</ul>');
  }
  if (p.evidence.length) {
    out.push(`<details class="evidence-list" id="${pid}--evidence"${p.status === 'failed' ? ' open' : ''}><summary>evidence (${p.evidence.length})</summary>`);
    p.evidence.forEach((e, i) => out.push(evidenceBlock(e, evId(i))));
    out.push('</details>');
  }
  out.push('</article>');
  return out.join('\n');
}

/** What a scenario's heading says of its outcome (outcomeOf) beside its mark. */
function outcomeWords(s: ScenarioResult): string {
  if (s.status === 'skipped') return `skipped${s.reason ? `: ${s.reason}` : ''}`;
  if (unprobed(s)) return `its probes did not run without its change, so the change is not checked${s.reason ? `: ${s.reason}` : ''}`;
  if (s.mode === 'without-change') return s.status === 'failed' ? 'failed without its change, as it must' : 'PASSED without its change: its probes do not detect the change';
  return '';
}

function scenarioSection(s: ScenarioResult): string {
  const out: string[] = [];
  const outcome = outcomeOf(s);
  const cls = outcome === 'skipped' ? 'skipped' : outcome === 'good' ? 'passed' : 'failed';
  const mark = MARK[cls];
  const mode = s.mode === 'without-change' ? ' <span class="dim">(run without its change)</span>' : '';
  const said = outcomeWords(s);
  const words = said ? ` <span class="${cls}">${esc(said)}</span>` : '';
  out.push(`<section class="scenario" id="${idOf(s.name, s.mode)}" data-status="${s.status}" data-mode="${s.mode}" data-verdict="${cls}" data-scenario="${esc(s.name)}">`);
  out.push(`<h2><span class="${cls}">${mark}</span> ${esc(s.name)}${mode}${words} <span class="dim">${seconds(s.durationMs)}</span></h2>`);
  const by = s.producedBy;
  const versions = by ? [by.istioVersion && `Istio ${by.istioVersion}`, by.envoyVersion && `Envoy ${by.envoyVersion}`, by.labId && `lab ${by.labId}`].filter(Boolean).join(', ') : '';
  out.push(`<div class="meta">${esc(s.file)} · ${esc(s.backend)}${versions ? ` · ${esc(versions)}` : ''}${by ? ` · control plane: ${esc(by.controlPlane)}; istio-init: ${esc(by.istioInit)}; proxy: ${esc(by.proxy)}` : ''}</div>`);
  if (s.status === 'failed' && s.probes.length === 0 && s.reason) out.push(`<div class="failed">${esc(s.reason)}</div>`);
  for (const p of s.probes) out.push(probeSection(s, p));
  out.push('</section>');
  return out.join('\n');
}

export function formatHtml(report: RunReport): string {
  const { passed, failed, skipped } = report.summary;
  const summary = summaryLine(report);
  // What to look at: the failed probes of normal runs, the scenarios that failed before their
  // probes, and --check-fault's scenarios that passed without their change.
  const toLook = report.scenarios.flatMap((s) => {
    if (s.mode === 'without-change') return outcomeOf(s) === 'bad' ? [{ id: idOf(s.name, s.mode), name: `${s.name} (without its change)`, why: outcomeWords(s) }] : [];
    if (s.status === 'failed' && s.probes.length === 0) return [{ id: idOf(s.name, s.mode), name: s.name, why: s.reason ?? '' }];
    return s.probes.filter((p) => p.status === 'failed').map((p) => ({ id: idOf(s.name, s.mode, p.probe), name: `${s.name} · ${p.probe}`, why: p.reason ?? '' }));
  });
  const body: string[] = [];
  body.push('<h1>pathlab run report</h1>');
  const meta = [`started ${report.startedAt}`, `backend ${report.backend}`, ...(report.istioVersion ? [`--istio-version ${report.istioVersion}`] : []), ...(report.checkFault ? ['--check-fault'] : []), ...(report.pathlab ? [`pathlab ${report.pathlab}`] : [])];
  body.push(`<div class="meta">${esc(meta.join(' · '))}</div>`);
  body.push(`<div class="summary ${failed > 0 ? 'failed' : 'passed'}" id="summary">${esc(summary)}</div>`);
  if (toLook.length) {
    body.push('<div>failed:</div><ul class="toc">');
    for (const x of toLook) body.push(`<li><a href="#${x.id}">${esc(x.name)}</a>: ${esc(x.why)}</li>`);
    body.push('</ul>');
  }
  for (const s of report.scenarios) body.push(scenarioSection(s));
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    // Nothing leaves the page: no request of any kind, inline style and the one script allowed.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>pathlab run: ${failed} failed, ${passed} passed, ${skipped} skipped</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    ...body,
    `<script>${SCRIPT}</script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
