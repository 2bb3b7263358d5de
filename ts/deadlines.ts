/**
 * The connections' deadlines (login grace time, idle timeout, keepalives) behind one runtime timer: a binary
 * min-heap of the connections whose core has a deadline, and one timer for the earliest. A runtime timer for
 * each connection costs it the timer, a closure and its context (about 280 bytes on Node); the heap, a slot.
 */

import { wholeMs, type Clock } from './runtime.js';

/** What the heap orders: its deadline (whole ms on the clock, -1 for none) and its place, kept by the heap. */
export interface Timed {
  deadline: number;
  /** Its index in the heap; NOT_HELD when not in it, DUE while taken out to expire. */
  heapIndex: number;
}

export const NOT_HELD = -1;
const DUE = -2;

export class Deadlines<T extends Timed> {
  private readonly heap: T[] = [];
  private timer: unknown;
  /** The deadline the timer is set for; -1 when none is set. */
  private armedFor = -1;

  constructor(
    private readonly clock: Clock,
    /** A deadline passed; the item's deadline is -1 by then. */
    private readonly expired: (item: T) => void,
  ) {}

  /** Sets the item's deadline, replacing the one it had; a negative one removes it (and one about to expire). */
  set(item: T, deadline: number): void {
    if (item.heapIndex >= 0) this.remove(item.heapIndex);
    item.heapIndex = NOT_HELD;
    item.deadline = deadline < 0 ? -1 : deadline;
    if (deadline >= 0) {
      item.heapIndex = this.heap.length;
      this.heap.push(item);
      this.up(item.heapIndex);
    }
    this.arm();
  }

  private fire(): void {
    this.timer = undefined;
    this.armedFor = -1;
    const now = wholeMs(this.clock);
    // Taken out first: an expiry may set deadlines, even ones already passed, which wait for the next turn.
    const due: T[] = [];
    while (this.heap.length > 0 && this.heap[0]!.deadline <= now) {
      const item = this.heap[0]!;
      this.remove(0);
      item.heapIndex = DUE;
      due.push(item);
    }
    for (const item of due) {
      // Set again or removed meanwhile (an earlier expiry ended its connection): not due any more.
      if (item.heapIndex !== DUE) continue;
      item.heapIndex = NOT_HELD;
      item.deadline = -1;
      this.expired(item);
    }
    this.arm();
  }

  /** One timer, for the earliest deadline (a timer that fires early finds nothing due and is set again). */
  private arm(): void {
    const at = this.heap.length > 0 ? this.heap[0]!.deadline : -1;
    if (at === this.armedFor) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = at;
    if (at < 0) return;
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, at - wholeMs(this.clock)));
  }

  private remove(index: number): void {
    const last = this.heap.pop()!;
    if (index === this.heap.length) return;
    this.heap[index] = last;
    last.heapIndex = index;
    this.down(index);
    this.up(last.heapIndex);
  }

  private up(index: number): void {
    const item = this.heap[index]!;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const above = this.heap[parent]!;
      if (above.deadline <= item.deadline) break;
      this.place(above, index);
      index = parent;
    }
    this.place(item, index);
  }

  private down(index: number): void {
    const item = this.heap[index]!;
    const n = this.heap.length;
    for (;;) {
      let child = 2 * index + 1;
      if (child >= n) break;
      if (child + 1 < n && this.heap[child + 1]!.deadline < this.heap[child]!.deadline) child++;
      const below = this.heap[child]!;
      if (item.deadline <= below.deadline) break;
      this.place(below, index);
      index = child;
    }
    this.place(item, index);
  }

  private place(item: T, index: number): void {
    this.heap[index] = item;
    item.heapIndex = index;
  }
}
