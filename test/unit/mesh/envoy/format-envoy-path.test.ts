import test from 'ava';
import fc from 'fast-check';
import { formatEnvoyPath } from '../../../../src/mesh/envoy/format-envoy-path.ts';
import { formatHop, parseHop } from '../../../../src/paths/hop.ts';

test('the DESIGN.md notation', (t) => {
  t.is(
    formatEnvoyPath([{ listener: 'virtualOutbound' }, { listener: '0.0.0.0_7000', chain: 'PassthroughFilterChain', cluster: 'PassthroughCluster' }]),
    'listener=virtualOutbound -> listener=0.0.0.0_7000 chain=PassthroughFilterChain cluster=PassthroughCluster',
  );
});

test('the one hop parser reads what formatEnvoyPath writes', (t) => {
  const name = fc.stringMatching(/^[A-Za-z0-9_.|:#-]{1,30}$/).filter((s) => !s.includes('->'));
  fc.assert(
    fc.property(fc.array(fc.record({ listener: name, chain: fc.option(name, { nil: undefined }), cluster: fc.option(name, { nil: undefined }) }, { requiredKeys: ['listener'] }), { minLength: 1, maxLength: 4 }), (hops) => {
      const clean = hops.map((h) => ({ listener: h.listener, ...(h.chain !== undefined ? { chain: h.chain } : {}), ...(h.cluster !== undefined ? { cluster: h.cluster } : {}) }));
      const text = `envoy ${formatEnvoyPath(clean)}`;
      const hop = parseHop(text);
      const attrs = clean.flatMap((h) => [['listener', h.listener], ...(h.chain !== undefined ? [['chain', h.chain]] : []), ...(h.cluster !== undefined ? [['cluster', h.cluster]] : [])]);
      t.deepEqual(hop, { kind: 'envoy', attrs });
      t.is(formatHop(hop), text);
    }),
  );
});
