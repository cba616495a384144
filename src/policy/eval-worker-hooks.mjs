// Module hooks for eval-worker-source.mjs (see there): .ts sources stripped of their types with
// the oxc transformer vitest already brings (rolldown/utils), else with the typescript dev dependency.
import { readFile } from 'node:fs/promises';

export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (error) {
    if (specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) return next(`${specifier.slice(0, -3)}.ts`, context);
    throw error;
  }
}

let transpile;
async function transpiler() {
  try {
    const { transformSync } = await import('rolldown/utils');
    return (url, source) => {
      const result = transformSync(new URL(url).pathname, source, { lang: 'ts' });
      if (result.errors.length > 0) throw new Error(`${url}: ${result.errors.map((error) => error.message).join('; ')}`);
      return result.code;
    };
  } catch {
    const { default: typescript } = await import('typescript');
    const compilerOptions = { module: typescript.ModuleKind.ESNext, target: typescript.ScriptTarget.ES2022 };
    return (url, source) => typescript.transpileModule(source, { fileName: url, compilerOptions }).outputText;
  }
}

export async function load(url, context, next) {
  if (!url.endsWith('.ts')) return next(url, context);
  transpile ??= await transpiler();
  return { format: 'module', source: transpile(url, await readFile(new URL(url), 'utf8')), shortCircuit: true };
}
