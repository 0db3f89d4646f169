// The checked-in lib/proto/gen matches what the generator makes from the .proto files now (buf and
// ts-proto from node_modules; no network).
import { describe, expect, it } from 'vitest';
import { staleFiles } from './gen-proto.ts';

describe('lib/proto/gen', () => {
  it('is up to date with the .proto files (run `make gen`)', () => {
    expect(staleFiles()).toEqual([]);
  }, 120_000);
});
