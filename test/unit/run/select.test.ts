// Which scenarios and probes `pathlab run --filter/--tag/--probe` takes, on the real catalogue.
import { spawnSync } from 'node:child_process';
import test from 'ava';
import { collectScenarioFiles } from '../../../src/scenario/collect.ts';
import { loadScenarioFile } from '../../../src/scenario/loader.ts';
import type { LoadedScenario } from '../../../src/scenario/loaded.ts';
import { labKey, namePattern, parseShard, selectScenarios, shardScenarios } from '../../../src/run/select.ts';

const catalogue: LoadedScenario[] = collectScenarioFiles(['scenarios']).files.flatMap((f) => {
  const r = loadScenarioFile(f);
  return r.ok ? [{ file: f, scenario: r.scenario, expected: r.expected, files: r.files }] : [];
});
const names = (xs: LoadedScenario[]) => xs.map((s) => s.scenario.metadata.name);

test('--filter without glob characters is a substring: incident-7000 takes every incident-7000 scenario (the whole-name glob took none)', (t) => {
  const got = names(selectScenarios(catalogue, { filter: 'incident-7000' }));
  t.deepEqual(got, names(catalogue).filter((n) => n.includes('incident-7000')));
  t.true(got.length >= 8, `${got.length}`);
});

test('--filter with * ? or [...] is a glob over the whole name', (t) => {
  t.deepEqual(names(selectScenarios(catalogue, { filter: 'incident-7000-fix-*' })), names(catalogue).filter((n) => n.startsWith('incident-7000-fix-')));
  t.deepEqual(names(selectScenarios(catalogue, { filter: 'fix-*' })), [], 'a glob matches the whole name, not a part of it');
  t.true(namePattern('outage-[lc]*')('outage-legacy'));
  t.false(namePattern('outage-[!l]*')('outage-legacy'));
  t.true(namePattern('a.b')('xa.by'), 'a dot is a character, and without glob characters a substring');
  t.false(namePattern('a.b*')('axb'), 'in a glob too a dot is only a dot');
});

test('--tag takes the scenarios with every tag given', (t) => {
  const fix = selectScenarios(catalogue, { tags: ['fix'] });
  t.true(fix.length > 0);
  t.true(fix.every((s) => s.scenario.metadata.tags?.includes('fix')));
  const both = selectScenarios(catalogue, { tags: ['fix', 'legacy'] });
  t.true(both.every((s) => s.scenario.metadata.tags?.includes('fix') && s.scenario.metadata.tags.includes('legacy')));
  t.deepEqual(selectScenarios(catalogue, { tags: ['no-such-tag'] }), []);
});

test('--probe keeps only the matching probes, with their own expectations, and drops scenarios with none', (t) => {
  const all = catalogue.flatMap((s) => s.scenario.probes.map((p, i) => ({ s, p, i })));
  const target = all.find(({ s }) => s.scenario.probes.length > 1)!;
  const got = selectScenarios(catalogue, { probes: [target.p.name] });
  t.true(got.length >= 1);
  for (const s of got) {
    t.true(s.scenario.probes.every((p) => p.name.includes(target.p.name)));
    t.is(s.expected.length, s.scenario.probes.length);
  }
  const mine = got.find((s) => s.file === target.s.file)!;
  t.deepEqual(mine.expected[mine.scenario.probes.findIndex((p) => p.name === target.p.name)], target.s.expected[target.i], 'the probe keeps its own expected hops');
});

test('pathlab run: a selection that takes nothing is bad input (exit 2) that names it; numeric options are checked', (t) => {
  const run = (args: string[]) => spawnSync(process.execPath, ['bin/pathlab.js', 'run', ...args], { encoding: 'utf8' });
  const none = run(['--filter', 'incident-7000', '--tag', 'no-such-tag']);
  t.is(none.status, 2);
  t.regex(none.stderr, /no scenario to run matches --filter incident-7000 --tag no-such-tag/);
  for (const bad of ['0', 'abc', '1.5', '-1']) {
    const r = run(['--concurrency', bad]);
    t.is(r.status, 2, bad);
    t.regex(r.stderr, /--concurrency .*expected a whole number from 1/);
  }
});

for (const n of [1, 2, 3, 4, 7]) {
  test(`--shard i/${n} over the catalogue: every scenario in exactly one shard, each lab whole, shards within one lab's size of each other`, (t) => {
    const shards = Array.from({ length: n }, (_, i) => shardScenarios(catalogue, { index: i + 1, count: n }));
    t.deepEqual(shards.flat().map((s) => s.file).sort(), catalogue.map((s) => s.file).sort());
    const home = new Map<string, number>();
    shards.forEach((sh, i) =>
      sh.forEach((s) => {
        t.is(home.get(labKey(s)) ?? i, i, `${s.file}: its lab is split across shards`);
        home.set(labKey(s), i);
      }),
    );
    const biggest = Math.max(...[...new Set(catalogue.map(labKey))].map((k) => catalogue.filter((s) => labKey(s) === k).length));
    const sizes = shards.map((sh) => sh.length);
    t.true(Math.max(...sizes) - Math.min(...sizes) <= biggest, sizes.join(' '));
  });
}

test('--shard: the same split whatever order the files come in (every job of a matrix agrees)', (t) => {
  const reversed = [...catalogue].reverse();
  for (let i = 1; i <= 3; i++) t.deepEqual(names(shardScenarios(reversed, { index: i, count: 3 })).sort(), names(shardScenarios(catalogue, { index: i, count: 3 })).sort());
});

test('--shard reads i/n with i from 1 to n, and nothing else', (t) => {
  t.deepEqual(parseShard('2/4'), { index: 2, count: 4 });
  for (const bad of ['0/4', '5/4', '2', '2/0', 'a/b', '1/4/2', ' 1/4']) t.is(parseShard(bad), undefined, bad);
  const r = spawnSync(process.execPath, ['bin/pathlab.js', 'run', '--shard', '5/4'], { encoding: 'utf8' });
  t.is(r.status, 2);
  t.regex(r.stderr, /--shard 5\/4: expected i\/n with i from 1 to n/);
});
