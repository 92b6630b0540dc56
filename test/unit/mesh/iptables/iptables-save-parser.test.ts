import test from 'ava';
import fc from 'fast-check';
import { IptablesParseError, loadRuleSet, parseIptablesSave, printIptablesSave, saveFormLines } from '../../../../src/mesh/iptables/index.ts';
import type { Rule, RuleMatch, RuleSet } from '../../../../src/mesh/iptables/index.ts';
import { goldens, readFixture } from '../../../helpers/shared-fixtures.ts';

const FIXTURES = ['seed000-pod-uid201507.save', 'seed002-istio-1.14.3.restore', 'seed002-istio-1.14.3.save', 'seed003-2021.save', 'seed004-istio-1.2.5.rules'];

for (const f of FIXTURES) {
  test(`reads ${f}: one rule per rule line, chains as declared`, (t) => {
    const text = readFixture('iptables', f);
    const rs = parseIptablesSave(text, { defaultTable: 'nat', source: f });
    const ruleLines = text.split('\n').filter((l) => /^(\[\d+:\d+\] )?-[AI] /.test(l));
    t.is(rs.tables.flatMap((s) => s.rules).length, ruleLines.length);
    const declared = text.split('\n').filter((l) => l.startsWith(':') || l.startsWith('-N ')).map((l) => l.replace(/^:|^-N /, '').split(' ')[0]);
    t.deepEqual(rs.tables.flatMap((s) => s.chains.map((c) => c.name)), declared);
    // every rule prints back to its own line (modulo the implicit -m tcp the line may not have had)
    const printed = printIptablesSave(rs).split('\n').filter((l) => /^(\[\d+:\d+\] )?-[AI] /.test(l));
    t.deepEqual(printed, ruleLines);
  });
}

test('seed000 counters: chain counters are kept', (t) => {
  const rs = parseIptablesSave(readFixture('iptables', 'seed000-pod-uid201507.save'));
  t.deepEqual(rs.tables[0]?.chains[0], { name: 'PREROUTING', style: 'declare', policy: 'ACCEPT', counters: { packets: 104490, bytes: 5433496 }, line: 3 });
});

test('seed003: lower-case chain names are chains like any other', (t) => {
  const chains = loadRuleSet(parseIptablesSave(readFixture('iptables', 'seed003-2021.save'))).get('nat');
  t.deepEqual(chains?.get('istio_OUTPUT')?.rules.length, 6);
});

test('both spellings load to the same rules: the 1.14.3 restore file and the kernel’s iptables-save of it', (t) => {
  const restore = saveFormLines(parseIptablesSave(readFixture('iptables', 'seed002-istio-1.14.3.restore')));
  const save = readFixture('iptables', 'seed002-istio-1.14.3.save').split('\n').filter((l) => l.startsWith('-A '));
  t.deepEqual(restore.get('nat'), save);
});

test('every golden payload loads to exactly what the kernel’s iptables-save printed for it (38 dumps)', (t) => {
  let compared = 0;
  for (const c of goldens().cases) {
    for (const [fam, payload, dump] of [
      ['ipv4', c.golden_parts.v4_restore, c.iptables_save_after_restore.v4_nft],
      ['ipv6', c.golden_parts.v6_restore, c.iptables_save_after_restore.v6_nft],
    ] as const) {
      if (!payload || !dump) continue;
      const groups = (c.iptables_save_after_restore as { group_name_mapping_used?: Record<string, string> }).group_name_mapping_used;
      const mine = saveFormLines(parseIptablesSave(payload), { family: fam, groups: groups ? Object.fromEntries(Object.entries(groups).map(([k, v]) => [k, Number(v)])) : undefined });
      const kernel = new Map<string, string[]>();
      let table = '';
      for (const l of dump.split('\n')) {
        if (l.startsWith('*')) kernel.set((table = l.slice(1)), []);
        else if (l.startsWith('-A ')) kernel.get(table)?.push(l);
      }
      t.deepEqual(Object.fromEntries(mine), Object.fromEntries(kernel), `${c.name} ${fam}`);
      compared++;
    }
  }
  t.is(compared, 38);
});

test('-I CHAIN N lands where the kernel puts it at that moment', (t) => {
  const rs = parseIptablesSave('*nat\n-A PREROUTING -j A1\n-I PREROUTING 1 -j I1\n-I PREROUTING 1 -j I2\n-I PREROUTING 3 -j I3\n-N A1\n-N I1\n-N I2\n-N I3\nCOMMIT\n');
  t.deepEqual(loadRuleSet(rs).get('nat')?.get('PREROUTING')?.rules.map((r) => r.target?.name), ['I2', 'I1', 'I3', 'A1']);
});

test('command form of older goldens: iptables -t nat -A ...', (t) => {
  const rs = parseIptablesSave('iptables -t nat -N ISTIO_OUTPUT\niptables -t nat -A OUTPUT -p tcp -j ISTIO_OUTPUT\niptables -t mangle -A OUTPUT -j RETURN\n');
  t.deepEqual(rs.tables.map((s) => [s.name, s.rules.length]), [['nat', 1], ['mangle', 1]]);
});

const BAD: [string, string, RegExp][] = [
  ['rule outside a table', '-A OUTPUT -j RETURN\n', /line 1: .*outside a table/],
  ['unknown line', '*nat\n-X FOO\nCOMMIT\n', /line 2: unknown line/],
  ['option without module', '*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT --uid-owner 3 -j RETURN\nCOMMIT\n', /line 3: option "--uid-owner" without a match module/],
  ['missing value', '*nat\n-A OUTPUT -p\nCOMMIT\n', /line 2: -p needs a value/],
  ['bad counters', '*nat\n:OUTPUT ACCEPT [x:0]\nCOMMIT\n', /line 2: bad counters/],
  ['two targets', '*nat\n-A OUTPUT -j RETURN -j ACCEPT\nCOMMIT\n', /line 2: more than one target/],
  ['dangling !', '*nat\n-A OUTPUT -j RETURN !\nCOMMIT\n', /line 2:/],
  ['unterminated quote', '*nat\n-A OUTPUT -m comment --comment "x -j RETURN\nCOMMIT\n', /line 2: unterminated/],
  ['table inside table', '*nat\n*mangle\n', /line 2: table "mangle" starts before COMMIT/],
  ['unknown -m option', '*nat\n-A OUTPUT -m owner --frob 1 -j RETURN\nCOMMIT\n', /line 2: unknown option "--frob" for -m owner/],
];
for (const [name, text, re] of BAD) {
  test(`unreadable input is an IptablesParseError with its line: ${name}`, (t) => {
    const e = t.throws(() => parseIptablesSave(text), { instanceOf: IptablesParseError });
    t.regex(e?.message ?? '', re);
  });
}

// ---- property tests ----
const word = fc.stringMatching(/^[A-Za-z0-9_.]{1,12}$/);
const value = fc.oneof(word, fc.stringMatching(/^[a-z0-9 ]{0,8}$/)).filter((v) => !v.startsWith('-') && v !== '!');
const chain = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,14}$/);
const negated = fc.boolean();
const genericMatch: fc.Arbitrary<RuleMatch> = fc
  .tuple(fc.constantFrom('-s', '-d', '-i', '-o'), negated, word)
  .map(([name, neg, v]) => ({ module: null, implicit: false, options: [{ name, negated: neg, values: [v] }] }));
const moduleMatch: fc.Arbitrary<RuleMatch> = fc.oneof(
  fc.tuple(negated, fc.integer({ min: 0, max: 65535 })).map(([neg, p]) => ({ module: 'tcp', implicit: false, options: [{ name: '--dport', negated: neg, values: [String(p)] }] })),
  fc.tuple(negated, fc.integer({ min: 0, max: 1 << 20 })).map(([neg, u]) => ({ module: 'owner', implicit: false, options: [{ name: '--uid-owner', negated: neg, values: [String(u)] }] })),
  fc.tuple(negated, fc.array(fc.integer({ min: 1, max: 65535 }), { minLength: 1, maxLength: 4 })).map(([neg, ps]) => ({ module: 'multiport', implicit: false, options: [{ name: '--dports', negated: neg, values: [ps.join(',')] }] })),
  fc.constantFrom('NEW', 'ESTABLISHED', 'RELATED,ESTABLISHED', 'INVALID').map((s) => ({ module: 'conntrack', implicit: false, options: [{ name: '--ctstate', negated: false, values: [s] }] })),
  value.map((v) => ({ module: 'comment', implicit: false, options: [{ name: '--comment', negated: false, values: [v] }] })),
);
const rule: fc.Arbitrary<Rule> = fc
  .record({
    chain,
    insertAt: fc.option(fc.integer({ min: 1, max: 50 }), { nil: undefined }),
    proto: fc.option(fc.tuple(negated, fc.constantFrom('tcp', 'udp')), { nil: undefined }),
    implicitPort: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
    matches: fc.array(fc.oneof(genericMatch, moduleMatch), { maxLength: 4 }),
    target: fc.option(
      fc.record({ name: fc.constantFrom('RETURN', 'ACCEPT', 'REDIRECT', 'ISTIO_OUTPUT', 'CT'), goto: fc.boolean(), options: fc.array(fc.tuple(fc.constantFrom('--to-ports', '--zone', '--save-mark'), value), { maxLength: 2 }) }),
      { nil: null },
    ),
    counters: fc.option(fc.record({ packets: fc.nat(), bytes: fc.nat() }), { nil: undefined }),
  })
  .map((r) => {
    const matches: RuleMatch[] = [];
    if (r.proto) {
      matches.push({ module: null, implicit: false, options: [{ name: '-p', negated: r.proto[0], values: [r.proto[1]] }] });
      if (r.implicitPort !== undefined) matches.push({ module: r.proto[1], implicit: true, options: [{ name: '--sport', negated: false, values: [String(r.implicitPort)] }] });
    }
    matches.push(...r.matches);
    const out: Rule = {
      chain: r.chain,
      matches,
      target: r.target ? { name: r.target.name, goto: r.target.goto, options: r.target.options.map(([n, v]) => ({ name: n, negated: false, values: n === '--save-mark' ? [] : [v] })) } : null,
    };
    if (r.insertAt !== undefined) out.insertAt = r.insertAt;
    if (r.counters) out.counters = r.counters;
    return out;
  });
const ruleSet: fc.Arbitrary<RuleSet> = fc.array(
  fc.record({
    name: fc.constantFrom('filter', 'mangle', 'nat', 'raw'),
    chains: fc.array(
      fc.oneof(
        chain.map((name) => ({ name, style: 'new' as const })),
        fc.tuple(chain, fc.constantFrom('ACCEPT', 'DROP', '-'), fc.option(fc.record({ packets: fc.nat(), bytes: fc.nat() }), { nil: undefined })).map(([name, policy, counters]) =>
          counters ? { name, style: 'declare' as const, policy, counters } : { name, style: 'declare' as const, policy },
        ),
      ),
      { maxLength: 4 },
    ),
    rules: fc.array(rule, { maxLength: 6 }),
    committed: fc.constant(true),
  }),
  { maxLength: 3 },
).map((tables) => ({ tables }));

function withoutLines(rs: RuleSet): RuleSet {
  return JSON.parse(JSON.stringify(rs, (k, v: unknown) => (k === 'line' ? undefined : v))) as RuleSet;
}

test('property: parse(print(rules)) == rules', (t) => {
  fc.assert(
    fc.property(ruleSet, (rs) => {
      t.deepEqual(withoutLines(parseIptablesSave(printIptablesSave(rs))), withoutLines(rs));
    }),
    { numRuns: 500 },
  );
});

test('property: the parser throws nothing but IptablesParseError on fuzzed input', (t) => {
  const tokens = fc.constantFrom('*nat', '* mangle', 'COMMIT', ':OUTPUT ACCEPT [0:0]', '-A', '-I', '-N', 'OUTPUT', 'ISTIO_OUTPUT', '1', '-p', 'tcp', '--dport', '!', '-m', 'owner', '--uid-owner', '-j', 'RETURN', '"', "'", '[1:2]', '-c', '-s', '10.0.0.0/8', 'iptables', '-t', '#x', '\n');
  const texts = fc.oneof(fc.string({ maxLength: 200 }), fc.array(tokens, { maxLength: 40 }).map((ws) => ws.join(' ')));
  fc.assert(
    fc.property(texts, (text) => {
      try {
        parseIptablesSave(text);
      } catch (e) {
        if (!(e instanceof IptablesParseError)) throw e;
        if (!(e.line >= 1)) throw new Error('error without a line number', { cause: e });
      }
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('a file that is not iptables text is not shown: an unknown line is named by its first characters only', (t) => {
  const e = t.throws(() => parseIptablesSave('root:$y$j9T$secret-hash:19000:0:99999:7:::\n'));
  const inTable = t.throws(() => parseIptablesSave('*nat\nroot:$y$j9T$secret-hash:19000:0:99999:7:::\nCOMMIT\n'));
  t.regex(inTable!.message, /line 2: unknown line starting "root:\$y\$…"/);
  t.false(inTable!.message.includes('secret'));
  t.regex(e!.message, /line 1: "root:\$y\$…" outside a table/);
  t.false(e!.message.includes('secret'));
});
