/** Host builtins: the graphql family (filled in by its owner). */
import type { BuiltinFamily } from './types.js';

export const graphqlBuiltins: BuiltinFamily = {};
