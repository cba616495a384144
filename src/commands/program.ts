/**
 * Every `gatehouse` command's flags and help, on commander (https://github.com/tj/commander.js):
 * switches (`--dry-run`, `--no-watch`), "did you mean" for mistyped flags and commands, help for
 * each command. Each command's implementation is imported when it runs, so a process loads only
 * what it uses (the cluster primary of `serve` never loads the policy runtime).
 */
import { Command, Option } from 'commander';
import { MASKED } from '../observability/decision-log.js';
import { OPA_VERSION } from '../policy/builtins/catalogue.js';
import { VERSION } from '../version.js';
import type { Io } from './common.js';
import { ALL_CONFIG_KEYS, EVALUATION_KEYS, OFFLINE_HELP, addConfigFlags, flagValues } from './config-flags.js';

const EXIT_STATUS = 'Exit status: 0 allowed, 1 denied, 2 usage or connection error (no answer).';

/**
 * The `gatehouse` program writing to `io`. An action's exit status goes to `exit`; commander's
 * own errors (unknown flag or command, missing value) throw a CommanderError once written.
 */
export function buildProgram(io: Io, exit: (code: number) => void): Command {
  const program = new Command('gatehouse')
    .usage('<command> [flags]')
    .description(
      `gatehouse ${VERSION}: an Envoy external authorization (ext_authz v3) server that evaluates Rego policies compiled to WebAssembly, in-process, and fails closed.`,
    )
    .version(VERSION, '--version', 'print the version')
    .helpOption('-h, --help', 'this help')
    .helpCommand(false)
    .exitOverride()
    .showSuggestionAfterError()
    .showHelpAfterError('(run "gatehouse help" for the commands)')
    .configureOutput({
      writeOut: io.stdout,
      writeErr: io.stderr,
      outputError: (text, write) => write(text.replace(/^error: /, 'gatehouse: ')),
      // Wrapped to the terminal, or to 100 columns in a pipe or file.
      getOutHelpWidth: () => (process.stdout.isTTY ? process.stdout.columns : 100),
      getErrHelpWidth: () => (process.stderr.isTTY ? process.stderr.columns : 100),
    })
    // Commands listed as people type them: "gatehouse check --bundle B --request R.json".
    .configureHelp({ subcommandTerm: (command) => `gatehouse ${command.name()} ${command.usage() === '[options]' ? '' : command.usage()}`.trimEnd(), sortSubcommands: false })
    .addHelpText('after', '\nRun "gatehouse help COMMAND" (or "gatehouse COMMAND --help") for a command\'s flags; "gatehouse help serve" lists every server setting.');

  const command = (name: string, usage: string, summary: string) => {
    const sub = program.command(name).usage(usage).summary(summary).helpOption('-h, --help', 'this help').allowExcessArguments(false);
    sub.showHelpAfterError(`(run "gatehouse help ${name}" for its flags)`);
    return sub;
  };
  /** Runs a command's implementation, imported on use, and records its exit status. */
  const run = (load: () => Promise<number>) => async () => exit(await load());

  const serve = command('serve', '[--config FILE] [flags]', "serve Envoy's Check over gRPC")
    .description(
      'Serves envoy.service.auth.v3.Authorization/Check and grpc.health.v1.Health. Every setting can be given in a YAML file (--config, snake_case keys), as an environment variable, or as a flag; flags win over the environment, which wins over the file. A boolean setting is a switch: --dry-run, --no-watch (or --watch false, as the environment and the file spell it).',
    )
    .addOption(new Option('--config <FILE>', 'YAML configuration file'));
  addConfigFlags(serve, ALL_CONFIG_KEYS, true)
    .addHelpText(
      'after',
      `
Workers: with workers > 1 (auto: the CPUs this process may use) the process is a primary that
forks that many workers sharing the gRPC listener, one connection to one worker; it serves the
admin port (metrics summed over the workers), writes every worker's decision-log lines, owns the
bundle source (all workers switch revisions together) and replaces a worker that dies or stops
answering heartbeats for 10 s. Workers serve the configuration the primary loaded at start.

Signals: SIGTERM/SIGINT turn health (grpc.health.v1, /readyz) to NOT_SERVING at once and keep
answering Checks for shutdown_drain_ms; then new calls are refused (GOAWAY), in-flight ones finish
(up to shutdown_timeout_ms), logs flush, exit 0. A second SIGTERM/SIGINT ends the drain early.
A signal before start-up finishes (say, a first HTTP bundle fetch that hangs) exits 0 at once.
With workers, signals go to the primary; workers ignore them and follow the primary.

Exit status: 0 after a signal; 2 for a configuration or start-up error.

Example:
  gatehouse serve --bundle build/bundle.tar.gz --addr 127.0.0.1:9191 --admin-addr 127.0.0.1:9192`,
    )
    .action(run(async () => (await import('./serve.js')).serve(flagValues(serve), io)));

  const check = command('check', '--bundle B --request R.json', 'print the input document and decision for one request')
    .description(
      'Evaluates one CheckRequest, given as JSON in Envoy\'s proto JSON form (the same document Envoy sends, e.g. {"attributes": {"request": {"http": {"method": "GET", "path": "/", ...}}}}), and prints the input document, the policy\'s result and the CheckResponse gatehouse would send. No server involved: see "gatehouse call" for asking a running one.',
    )
    .requiredOption('--request <FILE>', 'the CheckRequest (JSON); "-" reads standard input');
  addConfigFlags(check, EVALUATION_KEYS, false, OFFLINE_HELP)
    .addHelpText('after', `\nExit status: 0 allowed, 1 denied, 2 usage or bundle error.\n\nExample:\n  gatehouse check --bundle build/bundle.tar.gz --request examples/check-request.json`)
    .action(run(async () => (await import('./check.js')).check(flagValues(check), io)));

  const call = command('call', '--addr ADDR [--request R.json | --path P]', 'send one Check to a running ext_authz server and print its answer')
    .description(
      'Sends one envoy.service.auth.v3.Authorization/Check over gRPC to a running server (gatehouse, opa-envoy-plugin or any other ext_authz v3 server) and prints the CheckResponse: allowed or denied, the status, the headers and body Envoy would apply, and the dynamic metadata (gatehouse\'s decision_id among it). The request is a CheckRequest file (--request), or described by the flags --method, --path, --header, --principal, --destination and --body, which build the request as decision tables do: --principal is attributes.source.principal, the caller\'s identity as Envoy takes it from the client certificate. Plaintext unless --ca, --cert/--key or --tls is given.',
    )
    .requiredOption('--addr <ADDR>', 'the server: host:port, :port (this host) or unix:///path/to.sock')
    .addOption(new Option('--request <FILE>', 'the CheckRequest in proto JSON form; "-" reads standard input').conflicts(['path', 'method', 'header', 'principal', 'destination', 'body']))
    .option('--method <METHOD>', 'HTTP method (default GET)')
    .option('--path <PATH>', 'request path, with the query if any (/api/v1/stock?warehouse=eu-1)')
    .option('-H, --header <NAME:VALUE>', 'a request header; repeat for more (a repeated name is comma-joined, as Envoy joins it)', (value: string, previous: string[] = []) => [...previous, value])
    .option('--principal <ID>', "the caller's principal (a SPIFFE ID such as spiffe://mesh.local/ns/shop/sa/checkout)")
    .option('--destination <ID>', "the called workload's principal")
    .option('--body <TEXT>', 'request body, as Envoy forwards it with with_request_body')
    .option('--ca <FILE>', "TLS: CA certificates (PEM) that verify the server's certificate")
    .option('--cert <FILE>', 'mTLS: client certificate (PEM), with --key')
    .option('--key <FILE>', 'mTLS: private key (PEM) of --cert')
    .option('--tls', "TLS verified against the system's CAs (implied by --ca and --cert)")
    .option('--server-name <NAME>', "TLS: the name the server's certificate must carry, when it differs from the host in --addr")
    .option('--timeout-ms <N>', 'give up after this long (default 5000)')
    .option('--json', 'print {allowed, decision_id, response} as JSON (the CheckResponse in proto JSON form)')
    .addHelpText(
      'after',
      `\n${EXIT_STATUS}\n\nExamples:\n  gatehouse call --addr 127.0.0.1:9191 --principal spiffe://mesh.local/ns/shop/sa/checkout \\\n    --destination spiffe://mesh.local/ns/shop/sa/inventory --method GET --path /api/v1/stock/sku-1\n  gatehouse call --addr unix:///run/gatehouse.sock --request examples/check-request.json --json\n  gatehouse call --addr localhost:9191 --ca ca.pem --cert client.pem --key client.key --path /`,
    )
    .action(run(async () => (await import('./call.js')).call(flagValues(call), io)));

  const build = command('build', '--policies DIR --out FILE', 'compile Rego into a bundle gatehouse serves')
    .description(
      'Compiles the Rego and data files in DIR (*_test.rego files are left out) into a bundle with "opa build -t wasm", then loads the module as serve does: a builtin gatehouse cannot evaluate fails the build, named with the reason ("gatehouse builtins" lists what it evaluates). It also records which input fields the policy reads (for the decision cache; see docs/decision-cache.md). print() output goes to the operational log with the decision id. With --signing-key, the finished bundle is signed the way "opa build --signing-key" signs (a .signatures.json JWT listing every file\'s hash), so gatehouse (bundle_verification_key_file) and OPA both verify it.',
    )
    .option('--policies <DIR>', 'Rego and data files (default policies/)')
    .option('--out <FILE>', 'the bundle to write (default build/bundle.tar.gz)')
    .option('--entrypoint <PATH>', 'the rule whose value is the decision (default envoy/authz/allow)')
    .option('--opa <BIN>', 'the OPA CLI (default .tools/bin/opa, else opa on PATH)')
    .option('--revision <REV>', 'the bundle revision (default a hash of the sources)')
    .option('--v0-compatible', 'Rego written before OPA 1.0 (passed to opa build)')
    .option('--ignore <PATTERN>', 'files to leave out; repeatable (passed to opa build)', (value: string, previous: string[] = []) => [...previous, value])
    .option('-O, --optimize <LEVEL>', "OPA's optimisation level: 0, 1 or 2")
    .option('--signing-key <KEY.pem>', 'sign the bundle with this private key')
    .option('--signing-alg <ALG>', 'signature algorithm (default RS256)')
    .option('--signing-key-id <ID>', 'key id in the signature (default "default")')
    .option('--scope <S>', 'scope recorded in the signature')
    .addHelpText('after', '\nExit status: 0 built, 2 usage or build error.\n\nExample:\n  gatehouse build --policies policies --out build/bundle.tar.gz')
    .action(run(async () => (await import('./build.js')).build(flagValues(build), io)));

  const builtins = command('builtins', '[--format F]', 'list the Rego builtins gatehouse evaluates, and how')
    .alias('capabilities')
    .description(
      `Lists every builtin of OPA ${OPA_VERSION} by family and how gatehouse evaluates it: wasm (compiled into policy.wasm by OPA, identical to OPA by construction), host (implemented by gatehouse in TypeScript, with OPA's results) or refused ("gatehouse build" and the server refuse policies calling it; the reason says what to do). A "*" marks builtins whose result can change between evaluations of the same input (time, randomness): policies calling them are not cached unless decision_cache_nondeterministic_ttl_ms is set.`,
    )
    .option('--format <F>', 'text, json or markdown (the table in docs/policies.md); default text')
    .action(run(async () => (await import('./builtins.js')).builtins(flagValues(builtins), io)));

  const test = command('test', '--bundle B CASES.yaml...', 'run decision tables (requests and expected outcomes)')
    .description(
      'Runs decision tables against a compiled bundle. Every request is decided exactly as the server decides it (protobuf bytes, input, the compiled bundle). A key the table format does not know, at any level, is an error naming its line, with "did you mean".',
    )
    .argument('<CASES.yaml...>', 'decision tables')
    .option('-v, --verbose', 'print passing cases too');
  addConfigFlags(test, EVALUATION_KEYS, false, OFFLINE_HELP)
    .addHelpText(
      'after',
      `
A table is YAML:

  cases:
    - name: checkout may read stock
      source: spiffe://mesh.local/ns/shop/sa/checkout      # the caller's principal
      destination: spiffe://mesh.local/ns/shop/sa/inventory
      method: GET
      path: /api/v1/stock/sku-1
      headers: { x-request-id: r-1 }                         # optional; body: "..." too
      expect: { allowed: true, headers: { x-gatehouse-rule: checkout-reads-stock } }
    - name: a full CheckRequest in Envoy's proto JSON form
      request: { attributes: { request: { http: { method: GET, path: /healthz } } } }
      expect: { allowed: false, http_status: 403, reason_code: policy_denied, reason_contains: "may not" }

Case keys: name, expect, and either request or the shorthand (source, destination, method, path,
headers, body). expect keys: allowed, http_status, reason_code, reason, reason_contains, headers
(a subset of the headers the decision sets). Prints one line per failed case (every case with
--verbose) and "decision tables: N passed, N failed".

Exit status: 0 when all pass, 1 otherwise, 2 for usage, table or bundle errors.`,
    )
    .action(run(async () => (await import('./decision-table.js')).decisionTable(flagValues(test), test.args, io)));

  const replay = command('replay', '--bundle NEW DECISIONS.log...', 're-decide logged Checks with a new bundle; gate on flips')
    .description(
      `Reads decision-log lines (JSON, one per line; "-" is standard input, a FILE.gz is gunzipped), re-evaluates each recorded input with the bundle NEW, and compares with the logged outcome. Prints a summary (unchanged, allow→deny, deny→allow, skipped), the flips grouped by caller and by request, and up to --show changed lines. Inputs with masked values ("${MASKED}") are re-evaluated as logged and counted separately: their result may differ from what the unmasked request would get.`,
    )
    .argument('<DECISIONS.log...>', 'decision logs')
    .option('--max-allow-to-deny <N>', 'most allow→deny flips that still pass (default 0)')
    .option('--max-deny-to-allow <N>', 'most deny→allow flips that still pass (default 0)')
    .option('--show <N>', 'changed lines printed (default 20)')
    .option('--baseline <B>', 'what a flip is measured against: policy (the logged policy outcome, default) or enforced (what the caller got: a deny dry-run let through counts as allow; for replaying dry-run logs against a learned allow-list)');
  addConfigFlags(replay, EVALUATION_KEYS, false, OFFLINE_HELP)
    .addHelpText('after', '\nExit status: 1 when the flips exceed --max-allow-to-deny or --max-deny-to-allow, else 0; 2 for usage errors.')
    .action(run(async () => (await import('./replay.js')).replay(flagValues(replay), replay.args, io)));

  const learn = command('learn', 'DECISIONS.log... [--out FILE]', 'learn a least-privilege allow-list from decision logs')
    .description(
      `Reads decision-log lines (JSON, one per line; "-" is standard input, a FILE.gz is gunzipped) and derives the calls that went through: caller SPIFFE ID → destination SPIFFE ID → method → path template, with ids in paths turned into variables: the narrowest of {int}, {hex}, {uuid} and {id} (values that vary widely) that fits every value seen at a position, inside the literal prefix and suffix they share (sku-{int}, page{int}, {uuid}.json). Learns from calls the policy allowed and, in dry-run, calls it denied that dry-run let through; never from enforced denials, requests refused before the policy, callers that look like probes (unless --include-probes) or lines with masked ("${MASKED}") caller, destination, method or path. --out writes the allow-list as data for the example policy (policies/authz.rego: data.mesh.services, whole-path "exact_paths" rules); a review is printed: what would be allowed, variable segments, rare edges, what the serving policy denies, probes. docs/learn.md shows how to build it into a bundle and replay held-out logs against it.`,
    )
    .argument('<DECISIONS.log...>', 'decision logs')
    .option('--out <FILE>', 'write the learned data (JSON) here (the folder is made if missing); "-" writes it to standard output and the review to standard error')
    .option('--min-count <N>', 'leave out edges seen fewer than N times (default 1: keep all)')
    .option('--rare <N>', 'list edges seen fewer than N times for review (default 3)')
    .option('--min-distinct <N>', 'distinct values at one path position before they become a variable (default 10)')
    .option('--probe-paths <N>', 'distinct first path segments that, with most calls denied, mark a caller as a probe (default 10)')
    .option('--include-probes', 'learn from callers that look like probes too')
    .option('--show <N>', 'most lines per review list (default 50)')
    .addHelpText(
      'after',
      '\nExit status: 0 once learned, 2 for usage errors, unreadable or empty logs.\n\nExample:\n  gatehouse learn decisions.log --out learned/data.json\n  cp policies/authz.rego learned/ && gatehouse build --policies learned --out build/learned.tar.gz\n  gatehouse replay --bundle build/learned.tar.gz --baseline enforced held-out-decisions.log',
    )
    .action(run(async () => (await import('./learn.js')).learn(flagValues(learn), learn.args, io)));

  command('version', '', 'print the version').action(run(async () => (io.stdout(`${VERSION}\n`), 0)));

  command('help', '[COMMAND]', "this help, or a command's")
    .argument('[COMMAND]', 'a command')
    .action(
      run(async () => {
        const name = program.commands.find((c) => c.name() === 'help')!.args[0];
        if (name === undefined) {
          program.outputHelp();
          return 0;
        }
        const known = program.commands.find((c) => c.name() === name || c.aliases().includes(name));
        if (known) {
          known.outputHelp();
          return 0;
        }
        // An unknown one is the same usage error, with its suggestion, as "gatehouse X" (exit 2).
        await buildProgram(io, exit).parseAsync([name], { from: 'user' });
        return 2;
      }),
    );

  // --bundle is required by every offline command.
  for (const sub of [check, test, replay]) sub.options.find((o) => o.long === '--bundle')!.makeOptionMandatory();
  return program;
}
