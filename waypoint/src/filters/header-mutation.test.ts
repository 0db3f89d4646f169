import { describe, expect, it } from 'vitest';
import type { HeaderMutation } from '../config/types.ts';
import type { HeaderMap } from '../http/headers.ts';
import { applyHeaderMutation } from './header-mutation.ts';

describe('applyHeaderMutation', () => {
  it.each<[string, HeaderMap, HeaderMutation, HeaderMap]>([
    ['append adds another value', { a: '1' }, { remove: [], add: [{ name: 'a', value: '2', action: 'append' }] }, { a: ['1', '2'] }],
    ['append to a missing header adds it', {}, { remove: [], add: [{ name: 'a', value: '2', action: 'append' }] }, { a: '2' }],
    ['overwrite replaces every value', { a: ['1', '2'] }, { remove: [], add: [{ name: 'a', value: '3', action: 'overwrite' }] }, { a: '3' }],
    ['add-if-absent keeps an existing value', { a: '1' }, { remove: [], add: [{ name: 'a', value: '2', action: 'add-if-absent' }, { name: 'b', value: '3', action: 'add-if-absent' }] }, { a: '1', b: '3' }],
    ['overwrite-if-exists only touches present headers', { a: '1' }, { remove: [], add: [{ name: 'a', value: '2', action: 'overwrite-if-exists' }, { name: 'b', value: '3', action: 'overwrite-if-exists' }] }, { a: '2' }],
    ['remove happens before add (remove then set works)', { a: '1', b: '2' }, { remove: ['a', 'b'], add: [{ name: 'a', value: 'x', action: 'append' }] }, { a: 'x' }],
    ['an empty value adds nothing unless keepEmpty', {}, { remove: [], add: [{ name: 'a', value: '', action: 'append' }, { name: 'b', value: '', action: 'append', keepEmpty: true }] }, { b: '' }],
  ])('%s', (_n, before, m, after) => {
    expect(applyHeaderMutation({ ...before }, m)).toEqual(after);
  });
});
