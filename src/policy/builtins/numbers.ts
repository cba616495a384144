/** Host builtins: the numbers family (filled in by its owner). */
import type { BuiltinFamily } from './types.js';

export const numbersBuiltins: BuiltinFamily = {};
