// The acceptance form of the golden check: `pathlab iptables render --config FILE --istio-version V
// --family F` prints each golden payload (whitespace at the ends aside), for every current case and
// every historical release's case. The expected payloads of the historical goldens are derived as
// documented in istio-goldens.test.ts.
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bufferIo } from '../../src/cli/io.ts';
import { main } from '../../src/cli/main.ts';
import { goldenChecks } from '../helpers/golden-checks.ts';

const dir = mkdtempSync(join(tmpdir(), 'pathlab-goldens-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const checks = goldenChecks();
let reproduced = 0;
checks.forEach((c, i) => {
  test(`pathlab iptables render --config: ${c.label}`, async (t) => {
    const file = join(dir, `${i}.json`);
    writeFileSync(file, JSON.stringify(c.fields));
    for (const [family, expected] of [['ipv4', c.expected.v4], ['ipv6', c.expected.v6]] as const) {
      const io = bufferIo();
      const code = await main(['iptables', 'render', '--config', file, '--istio-version', c.version, '--family', family], io);
      if (expected.trim() === '') {
        t.is(code, 2, `${family}: no payload expected`);
        continue;
      }
      t.is(code, 0, io.stderr());
      t.is(io.stdout().trim(), expected.trim(), family);
    }
    // without --family: both payloads, IPv4 first
    const io = bufferIo();
    t.is(await main(['iptables', 'render', '--config', file, '--istio-version', c.version], io), 0);
    t.is(io.stdout().trim(), [c.expected.v4.trim(), c.expected.v6.trim()].filter((x) => x !== '').join('\n'), 'both families');
    reproduced++;
  });
});

test.after.always('reproduced N of N through the CLI', (t) => {
  const line = `CLI: reproduced ${reproduced} of ${checks.length} Istio goldens`;
  t.log(line);
  console.log(line);
});
