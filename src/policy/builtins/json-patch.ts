/**
 * json.patch (RFC 6902) with OPA's semantics (topdown/json.go applyPatches over its edit tree,
 * json-patch-tree.ts): paths are JSON pointers (leading slashes trimmed, `~1` and `~0` unescaped)
 * or arrays of keys of any type; sets are patched by value (`add` needs the last key to equal the
 * value); array indexes accept "-" (append) and refuse leading zeros; `replace` is remove then add;
 * any failing operation makes the whole call an error.
 */
import { typeName } from './args.js';
import { BuiltinError, type RegoObject, type RegoValue } from './types.js';
import { EditTree } from './json-patch-tree.js';
import { objectGet, regoEqual, valueKind } from './value-order.js';

const fail = (message: string) => new BuiltinError('json.patch', message);

/** parsePath */
function parsePath(path: RegoValue): RegoValue[] {
  if (typeof path === 'string') {
    if (path === '') return [];
    const unescape = (part: string) => part.replaceAll('~1', '/').replaceAll('~0', '~');
    return path.replace(/^\/+/, '').split('/').map(unescape);
  }
  if (Array.isArray(path)) return path;
  throw fail(`operand 2 must be one of {set, array} containing string paths or array of path segments but got ${typeName(path)}`);
}

function attribute(op: RegoObject, name: string): RegoValue {
  const v = objectGet(op, name);
  if (v === undefined) throw fail(`missing required attribute '${name}'`);
  return v;
}

/** applyPatches; undefined when the patches delete the whole document. */
export function jsonPatch(source: RegoValue, operations: RegoValue[]): RegoValue | undefined {
  const tree = new EditTree(source);
  for (const op of operations) {
    if (valueKind(op) !== 'object') throw fail('must be an array of JSON-Patch objects, but at least one element is not an object');
    const o = op as RegoObject;
    attribute(o, 'path');
    const name = attribute(o, 'op');
    if (typeof name !== 'string') throw fail(`attribute 'op' must be a string but found: ${typeName(name)}`);
    const path = parsePath(attribute(o, 'path'));
    switch (name) {
      case 'add':
        tree.insertAtPath(path, attribute(o, 'value'));
        break;
      case 'remove':
        tree.deleteAtPath(path);
        break;
      case 'replace':
        tree.deleteAtPath(path);
        tree.insertAtPath(path, attribute(o, 'value'));
        break;
      case 'move': {
        const from = parsePath(attribute(o, 'from'));
        const chunk = tree.renderAtPath(from);
        tree.deleteAtPath(from);
        tree.insertAtPath(path, chunk);
        break;
      }
      case 'copy': {
        const from = parsePath(attribute(o, 'from'));
        tree.insertAtPath(path, tree.renderAtPath(from));
        break;
      }
      case 'test': {
        const chunk = tree.renderAtPath(path);
        const value = attribute(o, 'value');
        if (chunk === undefined || !regoEqual(chunk, value)) throw fail('value from EditTree != patch value');
        break;
      }
      default:
        throw fail(`unrecognized op: '${name}'`);
    }
  }
  return tree.render();
}
