/**
 * The `gatehouse` command line: `serve`, `check`, `version`, `help`.
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { startApp, type RunningApp } from './app.js';
import { authorize } from './authz/authorize.js';
import { fromProtoJson, structToJson } from './authz/proto-json.js';
import type { Outcome } from './authz/outcome.js';
import { toCheckResponse } from './authz/response.js';
import { cacheSettings, loadConfig } from './config/load.js';
import { CONFIG_KEYS, envName, flagName } from './config/schema.js';
import { GatehouseError, describeThrown } from './errors.js';
import { authzProtos, type AuthzProtos } from './grpc/protos.js';
import { createLogger } from './observability/logger.js';
import { readBundle } from './policy/bundle.js';
import { buildBundle, defaultOpa } from './policy/build.js';
import { WasmPolicy } from './policy/evaluator.js';
import { VERSION } from './version.js';

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

const USAGE = `gatehouse ${VERSION}: an Envoy external authorization (ext_authz v3) server that evaluates
Rego policies compiled to WebAssembly, in-process, and fails closed.

Usage:
  gatehouse serve [--config FILE] [flags]     serve Envoy's Check over gRPC
  gatehouse check --bundle B --request R.json print the input document and decision for one request
  gatehouse build --policies DIR --out FILE   compile Rego into a bundle gatehouse serves
  gatehouse version                           print the version
  gatehouse help [serve|check]                this help

Run "gatehouse help serve" for every server flag.`;

function serveUsage(): string {
  const lines = Object.entries(CONFIG_KEYS).map(([key, spec]) => {
    const def =
      spec.type === 'path' ? 'optional' : spec.default === undefined ? 'required' : Array.isArray(spec.default) ? 'default none' : `default ${JSON.stringify(spec.default)}`;
    return `  --${flagName(key).padEnd(22)} ${spec.help} (${def}; env ${envName(key)})`;
  });
  return `Usage: gatehouse serve [--config FILE] [flags]

Serves envoy.service.auth.v3.Authorization/Check and grpc.health.v1.Health. Every setting can be
given in a YAML file (--config, snake_case keys), as an environment variable, or as a flag; flags
win over the environment, which wins over the file.

  --config FILE            YAML configuration file
${lines.join('\n')}

Signals: SIGTERM/SIGINT stop accepting Checks, finish in-flight ones, flush logs, exit 0.
Example:
  gatehouse serve --bundle build/bundle.tar.gz --addr 127.0.0.1:9191 --admin-addr 127.0.0.1:9192`;
}

const CHECK_USAGE = `Usage: gatehouse check --bundle PATH --request FILE [--entrypoint PATH] [--max-body-bytes N]
                       [--trust-domains TD,...] [--xfcc-trusted-sources SPIFFE_ID,...]

Evaluates one CheckRequest, given as JSON in Envoy's proto JSON form (the same document Envoy
sends, e.g. {"attributes": {"request": {"http": {"method": "GET", "path": "/", ...}}}}), and
prints the input document, the policy's result and the CheckResponse gatehouse would send.
"-" reads the request from standard input. Exit status: 0 allowed, 1 denied, 2 usage or bundle error.`;

const BUILD_USAGE = `Usage: gatehouse build [--policies DIR] [--out FILE] [--entrypoint PATH] [--opa BIN] [--revision REV]

Compiles the Rego and data files in DIR (default policies/; *_test.rego files are left out) into
a bundle (default build/bundle.tar.gz) with "opa build -t wasm", accepting only builtins that
gatehouse's Wasm runtime provides, and records which input fields the policy reads (for the
decision cache; see docs/decision-cache.md). --opa defaults to .tools/bin/opa, else opa on PATH.
The revision defaults to a hash of the sources.`;

function build(args: string[], io: Io): number {
  const { values } = parse(
    args,
    { policies: { type: 'string' }, out: { type: 'string' }, entrypoint: { type: 'string' }, opa: { type: 'string' }, revision: { type: 'string' } },
    BUILD_USAGE,
  );
  if (values.help) {
    io.stdout(`${BUILD_USAGE}\n`);
    return 0;
  }
  const config = loadConfig({ flags: { bundle: 'unused', entrypoint: values.entrypoint }, env: {} });
  const result = buildBundle({
    opa: (values.opa as string | undefined) ?? defaultOpa(),
    policies: (values.policies as string | undefined) ?? 'policies',
    out: (values.out as string | undefined) ?? 'build/bundle.tar.gz',
    entrypoint: config.entrypoint,
    revision: values.revision as string | undefined,
    log: (line) => io.stderr(`${line}\n`),
  });
  const { analysis } = result;
  const cacheNote = analysis.uncacheable
    ? `decision cache: off (${analysis.uncacheable})`
    : analysis.nondeterministic.length > 0
      ? `decision cache: off unless decision_cache_nondeterministic_ttl_ms is set (calls ${analysis.nondeterministic.join(', ')})`
      : `decision cache: keyed on ${analysis.fields.map((f) => `input.${f.join('.')}`).join(', ') || 'nothing (the decision does not depend on input)'}`;
  io.stderr(`${cacheNote}\n`);
  return 0;
}

export async function runCli(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.stdout(`${rest[0] === 'serve' ? serveUsage() : rest[0] === 'check' ? CHECK_USAGE : rest[0] === 'build' ? BUILD_USAGE : USAGE}\n`);
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
    default:
      io.stderr(`gatehouse: unknown command "${command}"\n\n${USAGE}\n`);
      return 2;
  }
}

function parse(args: string[], options: ParseArgsConfig['options'], usage: string): { values: Record<string, string | boolean | undefined> } {
  try {
    const { values } = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false });
    return { values: values as Record<string, string | boolean | undefined> };
  } catch (error) {
    throw new GatehouseError('usage', `${describeThrown(error)}\n\n${usage}`);
  }
}

async function serve(args: string[], io: Io): Promise<number> {
  const options: NonNullable<ParseArgsConfig['options']> = { config: { type: 'string' } };
  for (const [key, spec] of Object.entries(CONFIG_KEYS)) {
    options[flagName(key)] = { type: 'string' };
    if (spec.type === 'boolean') options[`no-${flagName(key)}`] = { type: 'boolean' };
  }
  const { values } = parse(args, options, serveUsage());
  if (values.help) {
    io.stdout(`${serveUsage()}\n`);
    return 0;
  }
  const flags: Record<string, string | boolean | undefined> = {};
  for (const [name, value] of Object.entries(values)) {
    if (name.startsWith('no-') && value === true) flags[name.slice(3)] = false;
    else flags[name] = value as string | boolean | undefined;
  }
  const config = loadConfig({ flags, env: io.env, file: values.config as string | undefined });
  const logger = createLogger(config.log_level);
  let app: RunningApp;
  try {
    app = await startApp(config, { logger });
  } catch (error) {
    logger.fatal({ error: describeThrown(error) }, 'gatehouse failed to start');
    logger.flush();
    throw error;
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'shutting down');
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      app.stop().then(resolve, (error: unknown) => {
        logger.error({ error: describeThrown(error) }, 'error during shutdown');
        resolve();
      });
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  logger.flush();
  // A write stuck on a stalled decision-log sink would keep the process alive forever; once
  // everything that can finish has, exit anyway (an unref'd timer only fires if something is stuck).
  setTimeout(() => process.exit(0), 500).unref();
  return 0;
}

async function check(args: string[], io: Io): Promise<number> {
  const { values } = parse(
    args,
    {
      bundle: { type: 'string' },
      request: { type: 'string' },
      entrypoint: { type: 'string' },
      'max-body-bytes': { type: 'string' },
      'trust-domains': { type: 'string' },
      'xfcc-trusted-sources': { type: 'string' },
    },
    CHECK_USAGE,
  );
  if (values.help) {
    io.stdout(`${CHECK_USAGE}\n`);
    return 0;
  }
  if (!values.bundle || !values.request) throw new GatehouseError('usage', `--bundle and --request are required\n\n${CHECK_USAGE}`);
  const config = loadConfig({
    flags: {
      bundle: values.bundle,
      entrypoint: values.entrypoint,
      'max-body-bytes': values['max-body-bytes'],
      'trust-domains': values['trust-domains'],
      'xfcc-trusted-sources': values['xfcc-trusted-sources'],
    },
    env: {},
  });
  const protos = authzProtos();
  const bundle = await readBundle(config.bundle, { maxBytes: config.max_bundle_bytes });
  const policy = await WasmPolicy.load(bundle, {
    entrypoint: config.entrypoint,
    maxMemoryBytes: config.max_wasm_memory_mb * 1024 * 1024,
    cache: cacheSettings(config),
  });

  const path = values.request as string;
  let requestJson: unknown;
  try {
    requestJson = JSON.parse(path === '-' ? readFileSync(0, 'utf8') : readFileSync(path, 'utf8'));
  } catch (error) {
    throw new GatehouseError('usage', `cannot read the request from ${path}: ${describeThrown(error)}`);
  }
  let bytes: Buffer;
  try {
    bytes = protos.encodeCheckRequest(fromProtoJson(protos.CheckRequest, requestJson));
  } catch (error) {
    throw new GatehouseError('usage', `${path} is not a CheckRequest in proto JSON form: ${describeThrown(error)}`);
  }
  const outcome = authorize(bytes, {
    decode: protos.decodeCheckRequest,
    currentPolicy: () => policy,
    inputOptions: { maxBodyBytes: config.max_body_bytes, xfccTrustedSources: new Set(config.xfcc_trusted_sources) },
    trustDomains: new Set(config.trust_domains),
    newDecisionId: () => 'check',
    nowNs: process.hrtime.bigint,
  });
  const report = {
    input: outcome.input ?? null,
    result: outcome.result ?? null,
    decision: {
      allowed: outcome.allowed,
      http_status: outcome.allowed ? 200 : outcome.httpStatus,
      reason_code: outcome.reasonLabel,
      reason: outcome.reason,
      revision: outcome.revision,
      decision_cache: policy.cachePlan.why,
    },
    response: readableResponse(protos, outcome),
  };
  io.stdout(`${JSON.stringify(report, null, 2)}\n`);
  return outcome.allowed ? 0 : 1;
}

/** The CheckResponse as gatehouse would send it, in proto JSON form with dynamic metadata as JSON. */
function readableResponse(protos: AuthzProtos, outcome: Outcome): Record<string, unknown> {
  const message = protos.CheckResponse.fromObject(toCheckResponse(outcome) as object);
  const json = protos.CheckResponse.toObject(message, { enums: String, longs: String, json: true });
  if (json.dynamicMetadata) json.dynamicMetadata = structToJson(json.dynamicMetadata);
  return json;
}
