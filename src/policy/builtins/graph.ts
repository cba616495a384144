/** Host builtins: the graph family (filled in by its owner). */
import type { BuiltinFamily } from './types.js';

export const graphBuiltins: BuiltinFamily = {};
