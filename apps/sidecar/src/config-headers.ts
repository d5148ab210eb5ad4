/**
 * request/response headers_to_add and headers_to_remove (route, virtual host, route configuration, weighted
 * cluster, local replies) compiled once: names checked and lower-cased, Envoy's append actions resolved.
 */
import { arr, bool, isObj, obj, str, wrapped, type Issues, type Obj } from './config-fields';
import { compileHeaderValue, type HeaderFormatter } from './header-formatter';

export interface HeaderOp {
  /** lower-case header name */
  name: string;
  value: string;
  /** 'append' adds a value, 'add-if-absent', 'overwrite' replaces (or adds), 'overwrite-if-exists'. */
  action: 'append' | 'add-if-absent' | 'overwrite' | 'overwrite-if-exists';
  /** set when the value has %OPERATORS% (header-formatter.ts); `value` is then unused */
  format: HeaderFormatter | undefined;
  /** keep_empty_value: add the header even when the value formats to '' */
  keepEmpty: boolean;
}

export interface HeaderMutations {
  add: HeaderOp[];
  remove: string[];
}

const APPEND_ACTIONS: Record<string, HeaderOp['action']> = {
  APPEND_IF_EXISTS_OR_ADD: 'append',
  ADD_IF_ABSENT: 'add-if-absent',
  OVERWRITE_IF_EXISTS_OR_ADD: 'overwrite',
  OVERWRITE_IF_EXISTS: 'overwrite-if-exists',
};

export function headerMutations(o: Obj, addKey: string, removeKey: string, path: string, issues: Issues): HeaderMutations {
  const add: HeaderOp[] = [];
  for (const [i, raw] of arr(o, addKey, path, issues).entries()) {
    const p = `${path}.${addKey}[${i}]`;
    if (!isObj(raw)) {
      issues.add(p, 'expected a HeaderValueOption');
      continue;
    }
    const header = obj(raw, 'header', p, issues);
    const key = header ? str(header, 'key').toLowerCase() : '';
    if (!key) {
      issues.add(`${p}.header.key`, 'is required');
      continue;
    }
    if (key.startsWith(':') || key === 'host') {
      // Envoy refuses to mutate pseudo headers here.
      issues.add(`${p}.header.key`, `"${key}" cannot be added by header mutation`);
      continue;
    }
    let action: HeaderOp['action'] = APPEND_ACTIONS[str(raw, 'append_action')] ?? 'append';
    const appendFlag = wrapped(raw, 'append');
    if (typeof appendFlag === 'boolean') action = appendFlag ? 'append' : 'overwrite';
    const value = str(header ?? {}, 'value');
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(key)) {
      issues.add(`${p}.header.key`, `"${key}" is not a valid header name`);
      continue;
    }
    if (/[\r\n\0]/.test(value)) {
      issues.add(`${p}.header.value`, 'must not contain CR, LF or NUL');
      continue;
    }
    const keepEmpty = bool(raw, 'keep_empty_value');
    const compiled = compileHeaderValue(value);
    if ('error' in compiled) {
      issues.add(`${p}.header.value`, compiled.error);
      continue;
    }
    if ('literal' in compiled) {
      // Envoy drops a header whose value is empty unless keep_empty_value is set.
      if (compiled.literal !== '' || keepEmpty) add.push({ name: key, value: compiled.literal, action, format: undefined, keepEmpty });
    } else add.push({ name: key, value: '', action, format: compiled.format, keepEmpty });
  }
  const remove = arr(o, removeKey, path, issues).filter((x): x is string => typeof x === 'string').map((s) => s.toLowerCase());
  return { add, remove };
}

