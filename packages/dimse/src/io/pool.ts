/**
 * A bounded concurrency pool over an async source: at most `limit` calls
 * of `fn` run at once, the source is pulled only when a slot frees up (so
 * a source of millions of items never piles up in memory), and results
 * come out in completion order.
 */
export async function* mapConcurrent<T, R>(source: AsyncIterable<T> | Iterable<T>, limit: number, fn: (item: T) => Promise<R>): AsyncGenerator<R> {
  if (!(limit >= 1)) throw new RangeError(`concurrency must be at least 1, got ${limit}`);
  const it: AsyncIterator<T> | Iterator<T> = Symbol.asyncIterator in source ? (source as AsyncIterable<T>)[Symbol.asyncIterator]() : (source as Iterable<T>)[Symbol.iterator]();
  const running = new Map<number, Promise<{ id: number; value: R }>>();
  let next = 0;
  let exhausted = false;
  try {
    for (;;) {
      while (!exhausted && running.size < limit) {
        const n = await it.next();
        if (n.done) {
          exhausted = true;
          break;
        }
        const id = next++;
        const p = fn(n.value).then((value) => ({ id, value }));
        // Handled when raced; until then a rejection must not count as unhandled.
        p.catch(() => undefined);
        running.set(id, p);
      }
      if (running.size === 0) return;
      const done = await Promise.race(running.values());
      running.delete(done.id);
      yield done.value;
    }
  } finally {
    if (!exhausted) await it.return?.();
    await Promise.allSettled(running.values());
  }
}
