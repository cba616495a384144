/** Host builtins: the crypto family (filled in by its owner). */
import type { BuiltinFamily } from './types.js';

export const cryptoBuiltins: BuiltinFamily = {};
