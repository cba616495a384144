/** Host builtins: the strings family (filled in by its owner). */
import type { BuiltinFamily } from './types.js';

export const stringsBuiltins: BuiltinFamily = {};
