/**
 * The connections' deadlines behind one timer: each expires once, in deadline order, not before its time;
 * replaced and removed ones do not; one timer is set at a time, for the earliest; an expiry that sets a
 * passed deadline waits for the next turn.
 */

import { expect, it } from 'vitest';
import { Deadlines, NOT_HELD, type Timed } from '../../ts/deadlines.js';
import { FakeClock } from '../helpers/fake-clock.js';

interface Item extends Timed {
  name: number;
}
const item = (name: number): Item => ({ name, deadline: -1, heapIndex: NOT_HELD });

it('expires each deadline once, in order and not early, with one timer at a time', () => {
  const clock = new FakeClock();
  const expired: [number, number][] = [];
  const deadlines = new Deadlines<Item>(clock, (i) => void expired.push([i.name, clock.now()]));
  const items = Array.from({ length: 200 }, (_, n) => item(n));
  // Deadlines from a fixed pseudo-random sequence, many of them equal.
  let seed = 7;
  const wanted = new Map<number, number>();
  for (const i of items) {
    seed = (seed * 48271) % 2147483647;
    const at = 1 + (seed % 500);
    deadlines.set(i, at);
    wanted.set(i.name, at);
    expect(clock.timers.size).toBe(1);
  }
  // Replaced: the later deadline holds. Removed: never expires.
  deadlines.set(items[0]!, 900);
  wanted.set(0, 900);
  deadlines.set(items[1]!, -1);
  wanted.delete(1);
  for (let t = 0; t <= 1000; t += 37) clock.advance(37);
  expect(expired.map(([n]) => n).sort((a, b) => a - b)).toEqual([...wanted.keys()].sort((a, b) => a - b));
  for (const [name, at] of expired) expect(at).toBeGreaterThanOrEqual(wanted.get(name)!);
  expect(expired.map(([n]) => wanted.get(n)!)).toEqual([...expired.map(([n]) => wanted.get(n)!)].sort((a, b) => a - b));
  expect(items.every((i) => i.deadline === -1 && i.heapIndex === NOT_HELD)).toBe(true);
  expect(clock.timers.size).toBe(0);
});

it('runs a deadline an expiry set again, passed or not, on a later turn; one an expiry removed, never', () => {
  const clock = new FakeClock();
  const a = item(1);
  const b = item(2);
  const c = item(3);
  const expired: number[] = [];
  const deadlines: Deadlines<Item> = new Deadlines<Item>(clock, (i) => {
    expired.push(i.name);
    if (i === a && expired.length === 1) {
      deadlines.set(a, 5); // already passed: next turn, not this loop
      deadlines.set(b, -1); // due with a, ended by its expiry
    }
  });
  deadlines.set(a, 10);
  deadlines.set(b, 10);
  deadlines.set(c, 30);
  clock.advance(20);
  expect(expired).toEqual([1, 1]);
  clock.advance(20);
  expect(expired).toEqual([1, 1, 3]);
});
