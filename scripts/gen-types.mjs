// Generates TypeScript types for the Envoy ext_authz v3 messages from the protos shipped by
// @grpc/grpc-js-xds (see src/grpc/protos.ts for the same include paths). Output is git-ignored.
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const deps = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
const out = path.resolve('src/generated');
const marker = path.join(out, 'envoy/service/auth/v3/CheckRequest.ts');
const source = path.join(deps, 'envoy-api/envoy/service/auth/v3/external_auth.proto');

if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(source).mtimeMs) process.exit(0);
rmSync(out, { recursive: true, force: true });
const bin = path.join(path.dirname(require.resolve('@grpc/proto-loader/package.json')), 'build/bin/proto-loader-gen-types.js');
execFileSync(process.execPath, [
  bin, '--grpcLib=@grpc/grpc-js', `--outDir=${out}`, '--longs=String', '--enums=String', '--bytes=String', '--importFileExtension=.js',
  '--includeDirs', ...['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(deps, d)),
  '--', 'envoy/service/auth/v3/external_auth.proto',
], { stdio: ['ignore', 'ignore', 'inherit'] });
console.log(`generated proto types in ${path.relative(process.cwd(), out)}`);
