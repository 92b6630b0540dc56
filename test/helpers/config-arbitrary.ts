// Random istio-iptables configurations (flags), for property tests of the renderer.
import fc from 'fast-check';

const port = fc.integer({ min: 1, max: 65535 }).map(String);
const ports = fc.array(port, { minLength: 1, maxLength: 3 }).map((p) => p.join(','));
const cidr4 = fc.tuple(fc.integer({ min: 1, max: 223 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 8, max: 32 })).map(([a, b, l]) => `${a}.${b}.0.0/${l}`);
const cidr6 = fc.tuple(fc.integer({ min: 0x2001, max: 0x2fff }), fc.integer({ min: 16, max: 128 })).map(([a, l]) => `${a.toString(16)}:db8::/${l}`);
const ids = fc.array(fc.integer({ min: 0, max: 70000 }), { minLength: 1, maxLength: 2 }).map((x) => x.join(','));
const nic = fc.constantFrom('eth1', 'eth2', 'net1');

export interface RandomConfig {
  flags: string[];
  fields: Record<string, unknown>;
}

export const istioConfigArbitrary: fc.Arbitrary<RandomConfig> = fc
  .record({
    u: fc.option(ids, { nil: undefined }),
    g: fc.option(ids, { nil: undefined }),
    m: fc.constantFrom('REDIRECT', 'TPROXY'),
    b: fc.option(fc.oneof(fc.constant('*'), ports), { nil: undefined }),
    d: fc.option(ports, { nil: undefined }),
    i: fc.option(fc.oneof(fc.constant('*'), fc.array(fc.oneof(cidr4, cidr6), { minLength: 1, maxLength: 2 }).map((c) => c.join(','))), { nil: undefined }),
    x: fc.option(fc.array(fc.oneof(cidr4, cidr6), { minLength: 1, maxLength: 2 }).map((c) => c.join(',')), { nil: undefined }),
    q: fc.option(ports, { nil: undefined }),
    o: fc.option(ports, { nil: undefined }),
    k: fc.option(nic, { nil: undefined }),
    c: fc.option(nic, { nil: undefined }),
    dns: fc.boolean(),
    allDns: fc.boolean(),
    drop: fc.boolean(),
    v6: fc.boolean(),
    servers4: fc.array(fc.constantFrom('10.96.0.10', '127.0.0.53', '8.8.8.8'), { maxLength: 2 }),
    servers6: fc.array(fc.constantFrom('fd00::10', '2001:4860::8888'), { maxLength: 1 }),
    groups: fc.option(fc.array(fc.integer({ min: 1, max: 3000 }).map(String), { minLength: 1, maxLength: 2 }).map((g) => g.join(',')), { nil: undefined }),
    groupsExclude: fc.option(fc.integer({ min: 1, max: 3000 }).map(String), { nil: undefined }),
  })
  .map((r) => {
    const flags: string[] = ['-m', r.m];
    for (const k of ['u', 'g', 'b', 'd', 'i', 'x', 'q', 'o', 'k', 'c'] as const) {
      const v = r[k];
      if (v !== undefined) flags.push(`-${k}`, v);
    }
    if (r.dns) flags.push('--redirect-dns');
    if (r.allDns) flags.push('--capture-all-dns');
    if (r.drop) flags.push('--drop-invalid');
    const fields: Record<string, unknown> = { EnableIPv6: r.v6, DNSServersV4: r.servers4, DNSServersV6: r.servers6 };
    if (r.groups !== undefined) fields['OwnerGroupsInclude'] = r.groups;
    if (r.groupsExclude !== undefined) fields['OwnerGroupsExclude'] = r.groupsExclude;
    return { flags, fields };
  });
