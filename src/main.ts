#!/usr/bin/env node
/** Entry point: run the CLI, turn errors into a message and an exit status. */
import { runCli } from './cli.js';
import { GatehouseError, describeThrown } from './errors.js';

// A reader that stops early (`gatehouse help serve | head`) closes the pipe: the rest of the output
// has nowhere to go, which is not an error of the command. (serve's decision-log sink on stdout
// handles its own stream errors and keeps serving.)
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
});

const io = {
  stdout: (text: string) => process.stdout.write(text),
  stderr: (text: string) => process.stderr.write(text),
  env: process.env,
};

runCli(process.argv.slice(2), io).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof GatehouseError && (error.code === 'usage' || error.code === 'config_invalid')) {
      io.stderr(`gatehouse: ${error.code === 'config_invalid' ? 'configuration error: ' : ''}${error.message}\n`);
    } else {
      io.stderr(`gatehouse: ${describeThrown(error)}\n`);
    }
    // Exit now: a command that failed part-way (serve whose TLS files cannot be read after its
    // evaluation threads and bundle watcher started) must not linger on the handles it opened.
    // stderr is a file, pipe or terminal here: all written synchronously on Linux before exit.
    process.exit(2);
  },
);
