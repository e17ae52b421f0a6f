/** A bounded worker pool over an async source, with back-pressure and results in source order. */

/**
 * Run `fn` over the items of `source` with at most `n` in flight, yielding
 * results in source order. The source is read only as fast as results are
 * consumed, so memory stays bounded by `n` whatever the source's length.
 */
export async function* mapPool<T, R>(source: AsyncIterable<T> | Iterable<T>, n: number, fn: (item: T) => Promise<R>): AsyncGenerator<R> {
  const width = Math.max(1, Math.floor(n));
  const it = (Symbol.asyncIterator in source ? (source as AsyncIterable<T>)[Symbol.asyncIterator]() : (source as Iterable<T>)[Symbol.iterator]()) as AsyncIterator<T> | Iterator<T>;
  const inFlight: Promise<R>[] = [];
  let exhausted = false;
  const fill = async () => {
    while (!exhausted && inFlight.length < width) {
      const next = await it.next();
      if (next.done) {
        exhausted = true;
        break;
      }
      const p = fn(next.value);
      p.catch(() => undefined); // awaited below; avoid an unhandled rejection while queued
      inFlight.push(p);
    }
  };
  try {
    await fill();
    while (inFlight.length) {
      const r = await inFlight.shift()!;
      yield r;
      await fill();
    }
  } finally {
    if (!exhausted) await it.return?.();
  }
}
