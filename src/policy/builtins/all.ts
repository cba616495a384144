/**
 * Every host builtin with its implementation, every family imported at once: for `gatehouse
 * builtins`, the docs table and tests. The server and the evaluation threads do not import this;
 * they load only the families a policy imports (catalogue.ts loadHostBuiltins).
 */
import { awsBuiltins } from './aws.js';
import { HOST_BUILTIN_FAMILIES } from './catalogue.js';
import { cryptoBuiltins } from './crypto.js';
import { encodingBuiltins } from './encoding.js';
import { graphBuiltins } from './graph.js';
import { graphqlBuiltins } from './graphql.js';
import { jsonBuiltins } from './json.js';
import { jwtBuiltins } from './jwt.js';
import { netBuiltins } from './net.js';
import { numbersBuiltins } from './numbers.js';
import { objectBuiltins } from './object.js';
import { opaBuiltins } from './opa.js';
import { regexBuiltins } from './regex.js';
import { semverBuiltins } from './semver.js';
import { stringsBuiltins } from './strings.js';
import { timeBuiltins } from './time.js';
import type { BuiltinFamily, HostBuiltin } from './types.js';
import { unitsBuiltins } from './units.js';
import { uuidBuiltins } from './uuid.js';
import { yamlBuiltins } from './yaml.js';

/** The family modules, by the catalogue's family name. */
export const HOST_FAMILY_MODULES: Readonly<Record<string, BuiltinFamily>> = {
  aws: awsBuiltins, crypto: cryptoBuiltins, encoding: encodingBuiltins, graph: graphBuiltins, graphql: graphqlBuiltins,
  json: jsonBuiltins, jwt: jwtBuiltins, net: netBuiltins, numbers: numbersBuiltins, object: objectBuiltins, opa: opaBuiltins,
  regex: regexBuiltins, semver: semverBuiltins, strings: stringsBuiltins, time: timeBuiltins, units: unitsBuiltins,
  uuid: uuidBuiltins, yaml: yamlBuiltins,
};

/** Builtins the Wasm module imports and gatehouse implements in TypeScript, in the catalogue's order. */
export const HOST_BUILTINS: ReadonlyMap<string, HostBuiltin> = (() => {
  const all = new Map<string, HostBuiltin>();
  for (const [name, family] of HOST_BUILTIN_FAMILIES) {
    const builtin = HOST_FAMILY_MODULES[family]?.[name];
    if (!builtin) throw new Error(`host builtin ${name} is not implemented by family ${family}`);
    all.set(name, builtin);
  }
  return all;
})();
