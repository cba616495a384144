/**
 * The `gatehouse` command line: dispatches to the commands in commands/.
 */
import type { Io } from './commands/common.js';
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

interface Command {
  run(args: string[], io: Io): number | Promise<number>;
  usage(): string;
}

/**
 * Each command's module is loaded when that command runs, so a process loads only what it uses
 * (the cluster primary of `serve` never loads the policy runtime).
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => {
    const m = await import('./commands/serve.js');
    return { run: m.serve, usage: m.serveUsage };
  },
  check: async () => {
    const m = await import('./commands/check.js');
    return { run: m.check, usage: () => m.CHECK_USAGE };
  },
  build: async () => {
    const m = await import('./commands/build.js');
    return { run: m.build, usage: () => m.BUILD_USAGE };
  },
  builtins: async () => {
    const m = await import('./commands/builtins.js');
    return { run: m.builtins, usage: () => m.BUILTINS_USAGE };
  },
  test: async () => {
    const m = await import('./commands/decision-table.js');
    return { run: m.decisionTable, usage: () => m.TEST_USAGE };
  },
  replay: async () => {
    const m = await import('./commands/replay.js');
    return { run: m.replay, usage: () => m.REPLAY_USAGE };
  },
};
COMMANDS.capabilities = COMMANDS.builtins!;

export async function runCli(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h': {
      const load = Object.prototype.hasOwnProperty.call(COMMANDS, rest[0] ?? '') ? COMMANDS[rest[0]!] : undefined;
      io.stdout(`${load ? (await load()).usage() : USAGE}\n`);
      return 0;
    }
    case 'version':
    case '--version':
      io.stdout(`${VERSION}\n`);
      return 0;
  }
  const load = Object.prototype.hasOwnProperty.call(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!load) {
    io.stderr(`gatehouse: unknown command "${command}"\n\n${USAGE}\n`);
    return 2;
  }
  return (await load()).run(rest, io);
}
