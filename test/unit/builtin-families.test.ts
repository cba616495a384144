/**
 * The catalogue's static table of host builtin families (catalogue.ts, which lets a thread import
 * only the families a policy needs) against the family modules themselves: the same names in the
 * same family, the same nondeterministic flags; and loadHostBuiltins loads only what is asked.
 */
import { describe, expect, it } from 'vitest';
import { HOST_FAMILY_MODULES } from '../../src/policy/builtins/all.js';
import { HOST_BUILTIN_FAMILIES, isNondeterministicBuiltin, loadAllHostBuiltins, loadHostBuiltins, loadedHostBuiltin } from '../../src/policy/builtins/catalogue.js';

describe('host builtin families', () => {
  it('the static table names exactly the builtins each family module implements, with their flags', () => {
    const fromModules = new Map<string, string>();
    for (const [family, builtins] of Object.entries(HOST_FAMILY_MODULES)) for (const name of Object.keys(builtins)) fromModules.set(name, family);
    expect(new Map(HOST_BUILTIN_FAMILIES)).toEqual(fromModules);
    for (const [family, builtins] of Object.entries(HOST_FAMILY_MODULES)) {
      for (const [name, builtin] of Object.entries(builtins)) expect(isNondeterministicBuiltin(name), `${family} ${name}`).toBe(builtin.nondeterministic === true);
    }
  });

  it('loadHostBuiltins loads the families of the names given; loadAllHostBuiltins every one', async () => {
    await loadHostBuiltins(['semver.compare', 'not.a.builtin']);
    expect(loadedHostBuiltin('semver.is_valid')).toBe(HOST_FAMILY_MODULES.semver!['semver.is_valid']);
    const all = await loadAllHostBuiltins();
    expect(all.size).toBe(HOST_BUILTIN_FAMILIES.size);
    expect(all.get('yaml.marshal')).toBe(HOST_FAMILY_MODULES.yaml!['yaml.marshal']);
  });
});
