// Every golden of Istio's own istio-iptables tests, reproduced by renderIstioIptables.
//
// Comparison, per format:
// - current (HEAD) cases and 1.24.6: the goldens are the restore payloads themselves; ours must be
//   identical line for line (whitespace at the ends trimmed, as Istio's own Compare does).
// - 1.14.3, 1.17.8, 1.18.7, 1.22.8, 1.23.6: Istio recorded one command per line
//   (`iptables -t nat -A ISTIO_OUTPUT ...`). The same rules in restore form are obtained mechanically:
//   per family (`iptables` / `ip6tables`), per table (tables in name order), the `-N` lines in the
//   order recorded, then the `-A`/`-I` lines in the order recorded, each table closed by COMMIT.
//   The only other change is the shell quoting of NFLOG prefixes (`"InboundCapture"` → InboundCapture),
//   which the stub recorded for the command form and the restore form never had (see 1.24.6 `logging`).
//   The `iptables-save` / `ip6tables-save` lines the stub logged are state dumps, not rules, and are skipped.
import test from 'ava';
import { configFromFields } from '../../src/mesh/iptables/istio-iptables-config.ts';
import { renderIstioIptables } from '../../src/mesh/iptables/render-istio-iptables.ts';
import { goldenChecks, trim } from '../helpers/golden-checks.ts';
import { goldens } from '../helpers/shared-fixtures.ts';

const g = goldens();
const checks = goldenChecks();

let reproduced = 0;
for (const c of checks) {
  test.serial(`golden ${c.label}`, (t) => {
    const out = renderIstioIptables(configFromFields(c.fields), c.version);
    t.is(trim(out.ipv4.payload), trim(c.expected.v4), 'IPv4 payload');
    t.is(trim(out.ipv6?.payload), trim(c.expected.v6), 'IPv6 payload');
    reproduced++;
  });
}

test.after.always('reproduced N of N', (t) => {
  const line = `reproduced ${reproduced} of ${checks.length} Istio goldens (${g.cases.length} current, ${checks.length - g.cases.length} historical)`;
  t.log(line);
  console.log(line);
});

test.serial('the golden set is complete: 27 current cases and six historical releases', (t) => {
  t.is(g.cases.length, 27);
  t.deepEqual(Object.keys(g.historical_goldens.tags).sort(), ['1.14.3', '1.17.8', '1.18.7', '1.22.8', '1.23.6', '1.24.6']);
});
