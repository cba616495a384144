// Runs the evaluation thread from the TypeScript sources (tests run src/ through vitest, which a
// worker thread does not inherit): registers a module loader that transpiles .ts files with the
// typescript dev dependency and resolves the sources' ".js" specifiers to ".ts". The built server
// never uses this file (it starts dist/policy/eval-worker.js).
import { register } from 'node:module';

register(new URL('./eval-worker-hooks.mjs', import.meta.url));
await import(new URL('./eval-worker.ts', import.meta.url).href);
