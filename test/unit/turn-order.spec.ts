import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../../lib/services/clock.js';
import { releasedBy, TurnOrder } from '../../lib/services/turn-order.js';

/** A release notification's message as the engine's owner values make it. */
const by = (tag: string) => `.${tag}.mx62b8pq`;

describe('TurnOrder (turns among processes after a chain of hand-offs)', () => {
  const setup = () => {
    const clock = new ManualClock();
    const turns = new TurnOrder(clock, () => 'self');
    return { clock, turns };
  };

  it('holds back after a chain ends until every other recent releaser has released again', async () => {
    const { clock, turns } = setup();
    turns.released('k', by('a'));
    turns.released('k', by('b'));
    await clock.advance(5);
    turns.ended('k', 100);
    expect(turns.left('k')).toBe(100);

    await clock.advance(10);
    turns.released('k', by('a')); // a had its turn
    expect(turns.left('k')).toBe(90); // b has not

    await clock.advance(10);
    turns.released('k', by('b'));
    expect(turns.left('k')).toBe(0);
    expect(turns.left('other-line')).toBe(0);
  });

  it('holds back at most the bound, whatever the others do', async () => {
    const { clock, turns } = setup();
    turns.released('k', by('a'));
    await clock.advance(1);
    turns.ended('k', 100);
    await clock.advance(99);
    expect(turns.left('k')).toBe(1);
    await clock.advance(1);
    expect(turns.left('k')).toBe(0);
    // Ended for good: a later look does not bring it back.
    turns.released('k', by('b'));
    expect(turns.left('k')).toBe(0);
  });

  it('holds nobody back for itself, for unknown messages, or when no other process released lately', async () => {
    const { clock, turns } = setup();
    turns.released('k', by('self'));
    turns.released('k', '');
    turns.released('k', undefined);
    turns.released('k', 'Xq3aaaaaaaaaaaaaaaaaaa.a.b'); // a whole value: not a message of ours
    turns.ended('k', 100);
    expect(turns.left('k')).toBe(0);

    turns.released('k', by('a'));
    await clock.advance(1_001); // a has not released for over a second: no longer a contender
    turns.ended('k', 100);
    expect(turns.left('k')).toBe(0);
  });

  it('reads the instance tag from a release message, and nothing else', () => {
    expect(releasedBy('.AEcwlp0p.mx62b8pq')).toBe('AEcwlp0p');
    expect(releasedBy('')).toBeUndefined();
    expect(releasedBy(undefined)).toBeUndefined();
    expect(releasedBy('.AEcwlp0p')).toBeUndefined();
    expect(releasedBy('.a b.mx')).toBeUndefined();
    expect(releasedBy(`.${'t'.repeat(17)}.mx`)).toBeUndefined();
  });
});
