// The queue of received bytes the upper layer frames PDUs from (src/net/byte-queue.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { ByteQueue } from "../src/net/byte-queue.js";
import { nullLogger } from "../src/net/logger.js";
import { MessageLayer } from "../src/net/messages.js";
import { Negotiation } from "../src/net/negotiation.js";

/** Bytes 0..n-1 (mod 256) cut into buffers of the given sizes. */
function cut(sizes: number[]): Buffer[] {
  let v = 0;
  return sizes.map((n) => Buffer.from(Array.from({ length: n }, () => v++ & 0xff)));
}

test("takeParts hands out slices of the queued buffers, never copies", () => {
  const chunks = cut([5, 3, 10]);
  const q = new ByteQueue(chunks);
  assert.equal(q.length, 18);
  const parts = q.takeParts(9);
  assert.deepEqual(
    parts.map((p) => [...p]),
    [[0, 1, 2, 3, 4], [5, 6, 7], [8]],
  );
  // Same memory as the chunks: writing through the chunk shows in the slice.
  chunks[2]![0] = 0xee;
  assert.equal(parts[2]![0], 0xee, "the last part is a view of the third chunk");
  assert.equal(parts[0]!.buffer, chunks[0]!.buffer);
  assert.equal(q.length, 9);
  assert.deepEqual([...q.take(9)], [9, 10, 11, 12, 13, 14, 15, 16, 17]);
  assert.equal(q.length, 0);
});

test("peek and take copy only what spans buffers; empty pushes are ignored", () => {
  const q = new ByteQueue();
  for (const c of cut([2, 0, 1, 4])) q.push(c);
  assert.equal(q.length, 7);
  assert.deepEqual([...q.peek(6)], [0, 1, 2, 3, 4, 5], "a header cut over three chunks");
  assert.equal(q.length, 7, "peek leaves the bytes queued");
  q.skip(3);
  const rest = q.peek(2);
  assert.deepEqual([...rest], [3, 4]);
  assert.equal(rest.byteOffset, q.take(4).byteOffset, "within one chunk: a view, no copy");
  assert.equal(q.length, 0);
});

test("many small chunks taken one at a time keep their order", () => {
  const chunks = cut(Array.from({ length: 5000 }, (_, i) => 1 + (i % 3)));
  const q = new ByteQueue();
  const total = chunks.reduce((n, c) => n + c.length, 0);
  for (const c of chunks) q.push(c);
  const out: number[] = [];
  while (q.length > 0) for (const p of q.takeParts(Math.min(q.length, 7))) out.push(...p);
  assert.equal(out.length, total);
  assert.ok(out.every((b, i) => b === (i & 0xff)));
});

test("a PDV spanning 200 000 socket chunks (a peer writing a byte at a time) is assembled, not a RangeError", () => {
  // A command PDV (not the last) of 200 000 bytes, each byte its own chunk: the slices are
  // gathered one by one (a spread of that many arguments overflows the stack).
  const n = 200_000;
  const head = Buffer.alloc(6);
  head.writeUInt32BE(n + 2, 0);
  head[4] = 1; // presentation context
  head[5] = 0x01; // command, not the last fragment
  const body = [head, ...Array.from({ length: n }, () => Buffer.from([0]))];
  const layer = new MessageLayer(
    () => {
      throw new Error("no upper layer needed");
    },
    new Negotiation(),
    nullLogger,
  );
  assert.doesNotThrow(() => layer.pdata(body));
});
