/** A clock whose time stands still until `advance`; a timer runs when the clock reaches its due time, with now() at it. */

import type { Clock } from '../../ts/runtime.js';

export class FakeClock implements Clock {
  private next = 0;
  readonly timers = new Map<number, { due: number; callback: () => void }>();
  constructor(public t = 0) {}
  now(): number {
    return this.t;
  }
  setTimeout(callback: () => void, ms: number): unknown {
    const id = ++this.next;
    this.timers.set(id, { due: this.t + ms, callback });
    this.armed(ms);
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  /** Moves the time on by `ms`, running each timer that comes due on the way, earliest first. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const [id, timer] = [...this.timers].filter(([, x]) => x.due <= end).sort((a, b) => a[1].due - b[1].due)[0] ?? [];
      if (id === undefined || !timer) break;
      this.timers.delete(id);
      this.t = Math.max(this.t, timer.due);
      timer.callback();
    }
    this.t = end;
  }
  /** A timer was set, `ms` from now. */
  protected armed(_ms: number): void {}
}
