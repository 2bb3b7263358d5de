/** A small typed event emitter whose handlers may be async; portable to every runtime (no node:events). */

/** An event handler: it may return a promise, which the emitter waits for before the next handler runs. */
export type Handler<T> = (event: T) => void | Promise<void>;

/** Events by name (`Events` maps each name to what its handlers receive). */
export class Emitter<Events extends object> {
  private readonly handlers = new Map<keyof Events, Handler<never>[]>();

  /** Adds a handler of the event `name`; handlers run in the order added. */
  on<K extends keyof Events>(name: K, handler: Handler<Events[K]>): this {
    const list = this.handlers.get(name) ?? [];
    list.push(handler as Handler<never>);
    this.handlers.set(name, list);
    return this;
  }

  /** Removes a handler added with `on`. */
  off<K extends keyof Events>(name: K, handler: Handler<Events[K]>): this {
    const list = this.handlers.get(name);
    if (list) this.handlers.set(name, list.filter((h) => h !== (handler as Handler<never>)));
    return this;
  }

  /** Whether the event has any handler. */
  protected hasListeners(name: keyof Events): boolean {
    return (this.handlers.get(name)?.length ?? 0) > 0;
  }

  /**
   * Runs the handlers one after another, awaiting each, so a handler can decide asynchronously and
   * later handlers see its decision. Returns synchronously when no handler returned a promise.
   */
  protected dispatch<K extends keyof Events>(name: K, event: Events[K]): void | Promise<void> {
    const list = this.handlers.get(name);
    if (!list) return;
    for (let i = 0; i < list.length; i++) {
      const result = (list[i] as Handler<Events[K]>)(event);
      if (result && typeof (result as Promise<void>).then === 'function') {
        return (result as Promise<void>).then(() => this.dispatchFrom(list, i + 1, event));
      }
    }
  }

  private async dispatchFrom<T>(list: Handler<never>[], from: number, event: T): Promise<void> {
    for (let i = from; i < list.length; i++) await (list[i] as Handler<T>)(event);
  }
}
