/** Host builtins: the opa family (filled in by its owner). */
import type { BuiltinFamily } from './types.js';

export const opaBuiltins: BuiltinFamily = {};
