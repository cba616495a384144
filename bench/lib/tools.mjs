// Pinned tools: ghz installed on demand into bench/.tools/bin (git-ignored) with `go install`;
// the incumbent only from OPA_ENVOY_PLUGIN (never built here) or the labelled stand-in.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const BIN = path.join(ROOT, 'bench', '.tools', 'bin');

export const GHZ_VERSION = 'v0.121.0';
/** The release the published numbers use (the `-envoy` tag; it embeds OPA v1.19.1). */
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
 * The incumbent. The real opa-envoy-plugin when OPA_ENVOY_PLUGIN=/path/to/binary names one built
 * outside this repository (docs/performance.md, "Getting the real plugin": the Go module proxy
 * refuses its module, so it is fetched and built by hand; this harness never builds it). Otherwise
 * the stand-in in bench/opa-standin (OPA v1.19.1's Go evaluator behind the same Check hot path),
 * loudly labelled: its numbers are not the published ones.
 * @returns {{ kind: 'opa-envoy-plugin' | 'opa-standin', name: string, bin: string, version: string, why?: string }}
 * @throws when OPA_ENVOY_PLUGIN is set but does not name a runnable opa-envoy-plugin
 */
export function ensureIncumbent(log) {
  const given = process.env.OPA_ENVOY_PLUGIN;
  if (given) {
    const probe = spawnSync(given, ['version'], { encoding: 'utf8', timeout: 30_000 });
    if (probe.status !== 0) throw new Error(`OPA_ENVOY_PLUGIN=${given} does not run (\`${given} version\` failed: ${(probe.stderr || probe.error?.message || '').trim().split('\n')[0]}); point it at an opa-envoy-plugin binary (docs/performance.md, "Getting the real plugin")`);
    const version = /Version:\s*(\S+)/.exec(probe.stdout)?.[1] ?? 'unknown';
    if (`v${version}-envoy` !== OPA_ENVOY_PLUGIN_VERSION) log(`WARNING: OPA_ENVOY_PLUGIN reports version ${version}; the published numbers use ${OPA_ENVOY_PLUGIN_VERSION}`);
    return { kind: 'opa-envoy-plugin', name: 'opa-envoy-plugin', bin: given, version: `opa-envoy-plugin ${version}` };
  }
  const why = 'OPA_ENVOY_PLUGIN is not set';
  const banner = '='.repeat(100);
  log(banner);
  log(`WARNING: ${why}: the baseline is bench/opa-standin (OPA v1.19.1 Go evaluator behind a hand-written Check server), NOT the real opa-envoy-plugin.`);
  log(`WARNING: ratios below are against the STAND-IN. For the real incumbent set OPA_ENVOY_PLUGIN=/path/to/opa-envoy-plugin (${OPA_ENVOY_PLUGIN_VERSION}; docs/performance.md says how to get it).`);
  log(banner);
  const standin = path.join(BIN, 'opa-standin');
  const source = path.join(ROOT, 'bench', 'opa-standin');
  const stale = !existsSync(standin) || spawnSync('find', [source, '-newer', standin, '-name', '*.go'], { encoding: 'utf8' }).stdout.trim() !== '';
  if (stale) {
    log('building bench/opa-standin (go build)');
    execFileSync('go', ['build', '-o', standin, '.'], { cwd: source, stdio: ['ignore', 'ignore', 'inherit'], timeout: 15 * 60_000 });
  }
  return { kind: 'opa-standin', name: 'opa-standin (STAND-IN, not the real plugin)', bin: standin, version: 'opa v1.19.1 (stand-in)', why };
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
