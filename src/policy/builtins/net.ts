/** Host builtins: the net family (filled in by its owner). */
import type { BuiltinFamily } from './types.js';

export const netBuiltins: BuiltinFamily = {};
