/**
 * The `gatehouse` command line: dispatches to the commands in commands/.
 */
import { BUILD_USAGE, build } from './commands/build.js';
import { BUILTINS_USAGE, builtins } from './commands/builtins.js';
import { CHECK_USAGE, check } from './commands/check.js';
import type { Io } from './commands/common.js';
import { REPLAY_USAGE, replay } from './commands/replay.js';
import { serve, serveUsage } from './commands/serve.js';
import { TEST_USAGE, decisionTable } from './commands/decision-table.js';
import { VERSION } from './version.js';

export type { Io } from './commands/common.js';

const USAGE = `gatehouse ${VERSION}: an Envoy external authorization (ext_authz v3) server that evaluates
Rego policies compiled to WebAssembly, in-process, and fails closed.

Usage:
  gatehouse serve [--config FILE] [flags]     serve Envoy's Check over gRPC
  gatehouse check --bundle B --request R.json print the input document and decision for one request
  gatehouse build --policies DIR --out FILE   compile Rego into a bundle gatehouse serves
  gatehouse builtins [--format F]             list the Rego builtins gatehouse evaluates, and how
  gatehouse test --bundle B CASES.yaml...     run decision tables (requests and expected outcomes)
  gatehouse replay --bundle B DECISIONS.log   re-decide logged Checks with a new bundle; gate on flips
  gatehouse version                           print the version
  gatehouse help [COMMAND]                    this help, or a command's

Run "gatehouse help serve" for every server flag.`;

const HELP: Record<string, () => string> = {
  serve: serveUsage,
  check: () => CHECK_USAGE,
  build: () => BUILD_USAGE,
  builtins: () => BUILTINS_USAGE,
  test: () => TEST_USAGE,
  replay: () => REPLAY_USAGE,
};

export async function runCli(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.stdout(`${HELP[rest[0] ?? '']?.() ?? USAGE}\n`);
      return 0;
    case 'version':
    case '--version':
      io.stdout(`${VERSION}\n`);
      return 0;
    case 'serve':
      return serve(rest, io);
    case 'check':
      return check(rest, io);
    case 'build':
      return build(rest, io);
    case 'builtins':
    case 'capabilities':
      return builtins(rest, io);
    case 'test':
      return decisionTable(rest, io);
    case 'replay':
      return replay(rest, io);
    default:
      io.stderr(`gatehouse: unknown command "${command}"\n\n${USAGE}\n`);
      return 2;
  }
}

