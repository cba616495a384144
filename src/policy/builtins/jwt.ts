/** Host builtins: the jwt family (filled in by its owner). */
import type { BuiltinFamily } from './types.js';

export const jwtBuiltins: BuiltinFamily = {};
