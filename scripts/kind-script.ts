// What the kind zx scripts share: the CLI's context on process streams, and its exit codes.
import { CliError } from '../src/cli/exit-codes.ts';
import { processIo } from '../src/cli/io.ts';
import type { CliContext } from '../src/cli/context.ts';

export async function runScript(body: (ctx: CliContext) => Promise<void>): Promise<void> {
  let code = 0;
  const ctx: CliContext = { io: processIo, exit: (c) => void (code = Math.max(code, c)) };
  try {
    await body(ctx);
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    process.stderr.write(e.message.endsWith('\n') ? e.message : `${e.message}\n`);
    code = e.exitCode;
  }
  process.exitCode = code;
}
