import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { HeldLeases, type HeldLinks } from '../../lib/services/held-leases.js';

class Item implements HeldLinks<Item> {
  heldPrev: Item | undefined = undefined;
  heldNext: Item | undefined = undefined;
  constructor(readonly id: number) {}
}

describe('HeldLeases (the list threaded through held leases)', () => {
  it('answers like a Set for any sequence of adds and deletes, repeats included', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 7 })), { maxLength: 60 }),
        (ops) => {
          const items = Array.from({ length: 8 }, (_, id) => new Item(id));
          const list = new HeldLeases<Item>();
          const model = new Set<Item>();
          for (const [add, index] of ops) {
            const item = items[index]!;
            if (add) {
              list.add(item);
              model.add(item);
            } else {
              expect(list.delete(item)).toBe(model.delete(item));
            }
            expect(list.size).toBe(model.size);
            for (const each of items) expect(list.has(each)).toBe(model.has(each));
            expect(new Set(list)).toEqual(model);
            expect([...list]).toHaveLength(model.size);
          }
        },
      ),
    );
  });
});
