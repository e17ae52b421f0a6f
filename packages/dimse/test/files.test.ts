// Whole-file reads into reused buffers (src/io/read-buffers.ts) and atomic writes that make
// missing folders (src/io/atomic.ts), on real files in a temporary folder.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ReadBuffers, writeFileAtomic } from "../src/io/index.js";

test("ReadBuffers: whole files, a buffer reused once given back, a larger file in a larger buffer, a missing file throws", () => {
  const dir = mkdtempSync(join(tmpdir(), "read-buffers-"));
  try {
    writeFileSync(join(dir, "a"), Buffer.alloc(100_000, 1));
    writeFileSync(join(dir, "b"), Buffer.alloc(90_000, 2));
    writeFileSync(join(dir, "c"), Buffer.alloc(300_000, 3));
    writeFileSync(join(dir, "empty"), "");
    const rb = new ReadBuffers(2);
    const a = rb.read(join(dir, "a"));
    assert.deepEqual(a, readFileSync(join(dir, "a")));
    const b = rb.read(join(dir, "b"));
    assert.notEqual(b.buffer, a.buffer, "a buffer in use is not handed out twice");
    rb.release(a);
    const b2 = rb.read(join(dir, "b"));
    assert.equal(b2.buffer, a.buffer, "the released buffer is reused");
    assert.deepEqual(b2, readFileSync(join(dir, "b")));
    const c = rb.read(join(dir, "c"));
    assert.equal(c.length, 300_000);
    assert.ok(c.every((x) => x === 3));
    assert.equal(rb.read(join(dir, "empty")).length, 0);
    assert.throws(() => rb.read(join(dir, "missing")), /ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("writeFileAtomic: missing folders are made (the first open fails, the folders follow); no temporary file left", async () => {
  const dir = mkdtempSync(join(tmpdir(), "atomic-dirs-"));
  try {
    const target = join(dir, "x/y/z.dat");
    await writeFileAtomic(target, [Buffer.from("one")], { fsync: false });
    assert.equal(readFileSync(target, "utf8"), "one");
    await writeFileAtomic(target, [Buffer.from("two")], { fsync: false });
    assert.equal(readFileSync(target, "utf8"), "two");
    assert.deepEqual(readdirSync(join(dir, "x/y")), ["z.dat"]);
    writeFileSync(join(dir, "file"), "");
    await assert.rejects(writeFileAtomic(join(dir, "file/z.dat"), "x", { fsync: false }), {
      code: "ENOTDIR",
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
