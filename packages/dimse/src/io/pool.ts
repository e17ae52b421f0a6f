/**
 * A bounded worker pool over an async source (`-j N`): at most `n` calls
 * of `fn` run at once, and the source is read only when a slot frees up
 * and results are taken, so a source of millions of items never piles up
 * in memory.
 */

export interface PoolOptions {
  /**
   * `source` (default): results in the order of the source, a slow item
   * holding back those after it (deterministic output); `completion`: each
   * result as soon as it is ready.
   */
  order?: "source" | "completion";
}

export async function* mapPool<T, R>(
  source: AsyncIterable<T> | Iterable<T>,
  n: number,
  fn: (item: T) => Promise<R>,
  o: PoolOptions = {},
): AsyncGenerator<R> {
  if (!(n >= 1)) throw new RangeError(`concurrency must be at least 1, got ${n}`);
  const width = Math.floor(n);
  const it: AsyncIterator<T> | Iterator<T> =
    Symbol.asyncIterator in source
      ? (source as AsyncIterable<T>)[Symbol.asyncIterator]()
      : (source as Iterable<T>)[Symbol.iterator]();
  /** In flight, in source order. */
  const running = new Map<number, Promise<{ id: number; value: R }>>();
  let next = 0;
  let exhausted = false;
  try {
    for (;;) {
      while (!exhausted && running.size < width) {
        const item = await it.next();
        if (item.done) {
          exhausted = true;
          break;
        }
        const id = next++;
        const p = fn(item.value).then((value) => ({ id, value }));
        // Awaited below; until then a rejection must not count as unhandled.
        p.catch(() => undefined);
        running.set(id, p);
      }
      if (running.size === 0) return;
      const done =
        o.order === "completion"
          ? await Promise.race(running.values())
          : await running.values().next().value!;
      running.delete(done.id);
      yield done.value;
    }
  } finally {
    if (!exhausted) await it.return?.();
    await Promise.allSettled(running.values());
  }
}
