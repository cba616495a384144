/** Host builtins: the uuid family (filled in by its owner). */
import type { BuiltinFamily } from './types.js';

export const uuidBuiltins: BuiltinFamily = {};
