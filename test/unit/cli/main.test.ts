import test from 'ava';
import { main } from '../../../src/cli/main.ts';
import { bufferIo } from '../../../src/cli/io.ts';

test('--version prints the package version and exits 0', async (t) => {
  const io = bufferIo();
  t.is(await main(['--version'], io), 0);
  t.regex(io.stdout(), /^\d+\.\d+\.\d+\n$/);
});

test('an unknown command is a usage error: exit 2', async (t) => {
  const io = bufferIo();
  t.is(await main(['frobnicate'], io), 2);
  t.regex(io.stderr(), /unknown command 'frobnicate'/);
});
