/** Host builtins: the units family (filled in by its owner). */
import type { BuiltinFamily } from './types.js';

export const unitsBuiltins: BuiltinFamily = {};
