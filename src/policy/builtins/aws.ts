/** Host builtins: the aws family (filled in by its owner). */
import type { BuiltinFamily } from './types.js';

export const awsBuiltins: BuiltinFamily = {};
