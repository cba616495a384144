// Pinned tools, installed on demand into bench/.tools/bin (git-ignored) with `go install`.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const BIN = path.join(ROOT, 'bench', '.tools', 'bin');

export const GHZ_VERSION = 'v0.121.0';
/** The `-envoy` tag: `@latest` resolves to an old release. It embeds OPA v1.19.1. */
export const OPA_ENVOY_PLUGIN_VERSION = 'v1.19.1-envoy';

function goInstall(pkg, log) {
  log(`installing ${pkg} into bench/.tools/bin (go install; takes a few minutes the first time)`);
  const result = spawnSync('go', ['install', pkg], { env: { ...process.env, GOBIN: BIN }, encoding: 'utf8', timeout: 15 * 60_000 });
  if (result.status !== 0) return (result.stderr || result.error?.message || 'failed').trim().split('\n').slice(-3).join(' | ');
  return undefined;
}

export function ensureGhz(log) {
  const bin = path.join(BIN, 'ghz');
  if (!existsSync(bin)) {
    const error = goInstall(`github.com/bojand/ghz/cmd/ghz@${GHZ_VERSION}`, log);
    if (error) throw new Error(`cannot install ghz ${GHZ_VERSION}: ${error}`);
  }
  return bin;
}

/**
 * The incumbent. The real opa-envoy-plugin when it is installed or installable; otherwise the
 * stand-in in bench/opa-standin (OPA v1.19.1's Go evaluator behind the same Check hot path), so
 * the harness still runs, clearly labelled. OPA_ENVOY_PLUGIN=/path/to/binary uses a binary built elsewhere.
 */
export function ensureIncumbent(log) {
  const given = process.env.OPA_ENVOY_PLUGIN;
  if (given) return { kind: 'opa-envoy-plugin', name: 'opa-envoy-plugin', bin: given, version: OPA_ENVOY_PLUGIN_VERSION };
  const real = path.join(BIN, 'opa-envoy-plugin');
  let why;
  if (!existsSync(real)) why = goInstall(`github.com/open-policy-agent/opa-envoy-plugin/cmd/opa-envoy-plugin@${OPA_ENVOY_PLUGIN_VERSION}`, log);
  if (!why) return { kind: 'opa-envoy-plugin', name: 'opa-envoy-plugin', bin: real, version: OPA_ENVOY_PLUGIN_VERSION };
  log(`WARNING: opa-envoy-plugin ${OPA_ENVOY_PLUGIN_VERSION} is not installable here (${why}).`);
  log('WARNING: falling back to bench/opa-standin (OPA v1.19.1 Go evaluator, same hot path); ratios are against the STAND-IN, not the real plugin.');
  const standin = path.join(BIN, 'opa-standin');
  const source = path.join(ROOT, 'bench', 'opa-standin');
  const stale = !existsSync(standin) || spawnSync('find', [source, '-newer', standin, '-name', '*.go'], { encoding: 'utf8' }).stdout.trim() !== '';
  if (stale) {
    log('building bench/opa-standin (go build)');
    execFileSync('go', ['build', '-o', standin, '.'], { cwd: source, stdio: ['ignore', 'ignore', 'inherit'], timeout: 15 * 60_000 });
  }
  return { kind: 'opa-standin', name: 'opa-standin', bin: standin, version: 'opa v1.19.1 (stand-in)', why };
}

export function envoyBinary() {
  const result = spawnSync('bash', [path.join(ROOT, 'scripts', 'ensure-envoy.sh'), '--print'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

export function versions(ghz, incumbent) {
  const run = (cmd, args) => { try { return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n')[0]; } catch { return undefined; } };
  return {
    node: process.version,
    go: run('go', ['version']),
    ghz: run(ghz, ['--version']) || GHZ_VERSION,
    incumbent: incumbent.version,
    grpcJs: JSON.parse(run('node', ['-p', 'JSON.stringify(require("@grpc/grpc-js/package.json").version)']) ?? '"?"'),
  };
}
