/** Host builtins: the encoding family (filled in by its owner). */
import type { BuiltinFamily } from './types.js';

export const encodingBuiltins: BuiltinFamily = {};
