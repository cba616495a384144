/** Host builtins: the yaml family (filled in by its owner). */
import type { BuiltinFamily } from './types.js';

export const yamlBuiltins: BuiltinFamily = {};
