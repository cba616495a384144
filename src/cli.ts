/**
 * The `gatehouse` command line: parses argv with the program of commands/program.ts and turns
 * the outcome into an exit status: 0 ok (allowed, passed, help), 1 denied or a failed check,
 * 2 usage (unknown command or flag, missing or conflicting flags). Errors a command throws
 * (configuration, bundle, usage found after parsing) are left to main.ts, which exits 2.
 */
import { CommanderError } from 'commander';
import type { Io } from './commands/common.js';
import { buildProgram } from './commands/program.js';

export type { Io } from './commands/common.js';

export async function runCli(argv: string[], io: Io): Promise<number> {
  let status = 0;
  const program = buildProgram(io, (code) => (status = code));
  try {
    // No command: the overview, as "gatehouse help" prints it.
    await program.parseAsync(argv.length === 0 ? ['help'] : argv, { from: 'user' });
    return status;
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    // Help and version asked for are success; everything else commander throws is a usage error.
    return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? 0 : 2;
  }
}
