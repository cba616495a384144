/** Host builtins: the object family (filled in by its owner). */
import type { BuiltinFamily } from './types.js';

export const objectBuiltins: BuiltinFamily = {};
