// WorkerPool with no threads (`threads: 0` and `local`): the lanes run in this thread with the
// handlers `local` makes, with the same halt, abort and close rules as in worker threads.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { WorkerPool, type WorkerContext, type WorkerHandler } from "../src/app/index.js";
import { createLogger } from "../src/cli/index.js";

interface Made {
  lane: number;
  runs: number[];
  closed: number;
  signal: AbortSignal;
}

/** A pool of `size` local lanes whose handler doubles its number, fails on 13 and halts on 99. */
function pool(size: number, signal?: AbortSignal) {
  const made: Made[] = [];
  const gates = new Map<number, () => void>();
  const p = new WorkerPool<{ factor: number }, number, number>({
    url: new URL(import.meta.url),
    entry: "test/local",
    data: Promise.resolve({ factor: 2 }),
    size,
    threads: 0,
    log: createLogger("test", new PassThrough()),
    signal,
    local: (d, ctx: WorkerContext): WorkerHandler<number, number> => {
      const m: Made = { lane: made.length, runs: [], closed: 0, signal: ctx.signal };
      made.push(m);
      return {
        run: async (n) => {
          m.runs.push(n);
          // A request of 1000 + k waits until the test opens gate k.
          if (n >= 1000) await new Promise<void>((resolve) => gates.set(n - 1000, resolve));
          if (n === 13) throw new Error("thirteen");
          return n * d.factor;
        },
        halts: (r) => r === 198,
        close: async () => {
          m.closed++;
        },
      };
    },
  });
  return { p, made, gates };
}

test("local lanes: results, one handler per lane, an error rejects and frees the lane, close once per lane", async () => {
  const { p, made } = pool(2);
  assert.equal(p.capacity, 2);
  assert.deepEqual(await Promise.all([p.run(1), p.run(2)]), [2, 4]);
  await assert.rejects(p.run(13), /thirteen/);
  assert.deepEqual(await Promise.all([p.run(3), p.run(4)]), [6, 8]);
  assert.equal(made.length, 2);
  assert.deepEqual(
    made.map((m) => m.runs.length).reduce((a, b) => a + b),
    5,
  );
  await p.close();
  assert.deepEqual(
    made.map((m) => m.closed),
    [1, 1],
  );
});

test("local lanes: a result that halts the run leaves later requests unstarted (undefined)", async () => {
  const { p, made } = pool(1);
  assert.equal(await p.run(99), 198);
  assert.equal(await p.run(5), undefined);
  p.halt();
  assert.equal(await p.run(6), undefined);
  assert.deepEqual(made[0]!.runs, [99]);
  await p.close();
});

test("local lanes: an abort reaches the handlers' signal, the request in hand finishes, close waits for it", async () => {
  const ac = new AbortController();
  const { p, made, gates } = pool(1, ac.signal);
  const inHand = p.run(1000);
  await new Promise((r) => setImmediate(r));
  ac.abort();
  assert.equal(made[0]!.signal.aborted, true);
  let closed = false;
  const closing = p.close().then(() => (closed = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(closed, false, "close waits for the request in hand");
  gates.get(0)!();
  assert.equal(await inHand, 2000);
  await closing;
  assert.equal(made[0]!.closed, 1);
});

test("a worker thread: an abort while the pool closes reaches the thread, whose close then ends", async () => {
  const ac = new AbortController();
  const p = new WorkerPool<unknown, number, number>({
    url: new URL("./worker-fixture.ts", import.meta.url),
    entry: "test/closes-on-abort",
    data: {},
    size: 1,
    threads: 1,
    log: createLogger("test", new PassThrough()),
    signal: ac.signal,
  });
  assert.equal(await p.run(1), 2);
  let closed = false;
  const closing = p.close().then(() => (closed = true));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(closed, false, "the thread's close waits for the abort");
  ac.abort();
  const timer = new Promise((r) => setTimeout(r, 10_000).unref());
  await Promise.race([closing, timer]);
  assert.equal(closed, true, "closed once aborted");
});
