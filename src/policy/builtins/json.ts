/** Host builtins: the json family (filled in by its owner). */
import type { BuiltinFamily } from './types.js';

export const jsonBuiltins: BuiltinFamily = {};
