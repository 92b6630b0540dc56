import test from 'ava';
import fc from 'fast-check';
import { formatEnvoyPath, parseEnvoyPath } from '../../../../src/mesh/envoy/format-envoy-path.ts';

test('the DESIGN.md notation', (t) => {
  t.is(
    formatEnvoyPath([{ listener: 'virtualOutbound' }, { listener: '0.0.0.0_7000', chain: 'PassthroughFilterChain', cluster: 'PassthroughCluster' }]),
    'listener=virtualOutbound -> listener=0.0.0.0_7000 chain=PassthroughFilterChain cluster=PassthroughCluster',
  );
});

test('parseEnvoyPath reads what formatEnvoyPath writes (with or without the `envoy` kind word)', (t) => {
  const name = fc.stringMatching(/^[A-Za-z0-9_.|:#-]{1,30}$/).filter((s) => !s.includes('->'));
  fc.assert(
    fc.property(fc.array(fc.record({ listener: name, chain: fc.option(name, { nil: undefined }), cluster: fc.option(name, { nil: undefined }) }, { requiredKeys: ['listener'] }), { minLength: 1, maxLength: 4 }), (hops) => {
      const clean = hops.map((h) => ({ listener: h.listener, ...(h.chain !== undefined ? { chain: h.chain } : {}), ...(h.cluster !== undefined ? { cluster: h.cluster } : {}) }));
      const text = formatEnvoyPath(clean);
      t.deepEqual(parseEnvoyPath(text), clean);
      t.deepEqual(parseEnvoyPath(`envoy ${text}`), clean);
    }),
  );
});

test('a typo in a hop field is an error naming the hop', (t) => {
  t.throws(() => parseEnvoyPath('listener=a -> listner=b'), { message: /hop 2: unknown field "listner=b"/ });
});
