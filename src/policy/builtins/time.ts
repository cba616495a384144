/** Host builtins: the time family (filled in by its owner). */
import type { BuiltinFamily } from './types.js';

export const timeBuiltins: BuiltinFamily = {};
