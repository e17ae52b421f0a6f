// Receiving instances into files (src/net/storage.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { finished } from "node:stream/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { buildPart10Prefix, TransferSyntax } from "../src/dicom/index.js";
import {
  FileReceiver,
  type InstanceFileSink,
  placeFile,
  type Association,
} from "../src/net/index.js";
import { raw, tmpFile } from "./helpers.js";

setFlagsFromString("--expose-gc");
/** A full collection, so that a WeakRef shows what is still retained. */
const gc = runInNewContext("gc") as () => void;

const MR = "1.2.840.10008.5.1.4.1.1.4";
const mrCommand = (uid: string) => ({
  commandField: 1,
  hasDataset: true,
  affectedSopClassUid: MR,
  affectedSopInstanceUid: uid,
});
const mrContext = {
  id: 1,
  abstractSyntax: MR,
  transferSyntax: TransferSyntax.ExplicitVRLittleEndian,
};

/**
 * Hand `parts` to a sink of `receiver` as the message layer does (`writeNow`,
 * a PDV's slices at a time), or as any stream writer (`write`), and describe the result.
 */
async function receive(
  receiver: FileReceiver,
  uid: string,
  parts: Buffer[],
  way: "writeNow" | "write" = "writeNow",
) {
  const assoc = {} as Association;
  const sink: InstanceFileSink = receiver.open(mrCommand(uid), mrContext, assoc);
  for (let i = 0; i < parts.length; i += 2) {
    const pdv = parts.slice(i, i + 2);
    if (way === "write") for (const p of pdv) sink.write(p);
    else assert.equal(sink.writeNow(pdv), true);
  }
  sink.end();
  await finished(sink);
  return { sink, inst: receiver.describe(sink, mrCommand(uid), mrContext, assoc) };
}

test("a received instance's head keeps the elements before one that runs past the first bytes", async () => {
  const dataset = Buffer.concat([
    raw(0x00080016, "UI", "1.2.840.10008.5.1.4.1.1.4\0"),
    raw(0x00080018, "UI", "1.2.3.4.5.6\0"),
    raw(0x00100020, "LO", "PAT1"),
    raw(0x0020000d, "UI", "1.2.3.4\0"),
    raw(0x0020000e, "UI", "1.2.3.4.5\0"),
    // A private element larger than the bytes kept for the head (as a Siemens CSA header can be).
    raw(0x00291010, "OB", Buffer.alloc(200 * 1024, 1)),
    raw(0x7fe00010, "OW", Buffer.alloc(1024)),
  ]);
  const receiver = new FileReceiver({ tmpDir: tmpFile("recv") });
  await receiver.ensureTmpDir();
  const cmd = {
    commandField: 1,
    hasDataset: true,
    affectedSopClassUid: "1.2.840.10008.5.1.4.1.1.4",
    affectedSopInstanceUid: "1.2.3.4.5.6",
  };
  const ctx = {
    id: 1,
    abstractSyntax: "1.2.840.10008.5.1.4.1.1.4",
    transferSyntax: TransferSyntax.ExplicitVRLittleEndian,
  };
  const assoc = {} as Association;
  const sink: InstanceFileSink = receiver.open(cmd, ctx, assoc);
  for (let o = 0; o < dataset.length; o += 16384) sink.write(dataset.subarray(o, o + 16384));
  sink.end();
  await finished(sink);
  const inst = receiver.describe(sink, cmd, ctx, assoc);
  assert.equal(inst.head.string(0x00100020), "PAT1");
  assert.equal(inst.head.string(0x0020000d), "1.2.3.4");
  assert.equal(inst.head.string(0x0020000e), "1.2.3.4.5");
  assert.equal(inst.head.has(0x00291010), false, "the element cut off is left out");
});

test("a head longer than the first bytes parsed is read on: attributes after a 20 KiB one are found", async () => {
  const dataset = Buffer.concat([
    raw(0x00080016, "UI", `${MR}\0`),
    raw(0x00080018, "UI", "1.2.3.4.5.7\0"),
    raw(0x00100020, "LO", "PAT2"),
    // Patient Comments of 20 KiB: the attributes after it lie beyond the first 8 KiB.
    raw(0x00104000, "LT", "x".repeat(20 * 1024)),
    raw(0x0020000d, "UI", "1.2.3.5\0"),
    raw(0x7fe00010, "OW", Buffer.alloc(100 * 1024)),
  ]);
  const receiver = new FileReceiver({ tmpDir: tmpFile("recv") });
  await receiver.ensureTmpDir();
  const parts: Buffer[] = [];
  for (let o = 0; o < dataset.length; o += 1000) parts.push(dataset.subarray(o, o + 1000));
  const { inst } = await receive(receiver, "1.2.3.4.5.7", parts);
  assert.equal(inst.head.string(0x00100020), "PAT2");
  assert.equal(inst.head.string(0x0020000d), "1.2.3.5");
  assert.equal(inst.head.has(0x7fe00010), false, "Pixel Data is not part of the head");
  assert.deepEqual(readFileSync(inst.tmpPath).subarray(-dataset.length), dataset);
});

for (const way of ["writeNow", "write"] as const)
  test(`a finished sink keeps none of the chunks it was given (slices of socket chunks), by ${way}`, async () => {
    const dataset = Buffer.concat([
      raw(0x00080016, "UI", `${MR}\0`),
      raw(0x00080018, "UI", "1.2.3.4.5.8\0"),
      raw(0x0020000d, "UI", "1.2.3.6\0"),
      raw(0x7fe00010, "OW", Buffer.alloc(300 * 1024, 7)),
    ]);
    const receiver = new FileReceiver({ tmpDir: tmpFile("recv") });
    await receiver.ensureTmpDir();
    // As from the socket: 64 KiB chunks, the value handed on as slices of them.
    let chunks: Buffer[] | undefined = [];
    for (let o = 0; o < dataset.length; o += 65536)
      chunks.push(Buffer.from(dataset.subarray(o, o + 65536)));
    const refs = chunks.map((c) => new WeakRef(c.buffer));
    const slices = chunks.flatMap((c) => [c.subarray(0, 1000), c.subarray(1000)]);
    const { sink, inst } = await receive(receiver, "1.2.3.4.5.8", slices, way);
    slices.length = 0;
    chunks = undefined;
    await new Promise((r) => setImmediate(r));
    gc();
    assert.equal(inst.head.string(0x0020000d), "1.2.3.6");
    assert.deepEqual(
      refs.map((r) => r.deref() === undefined),
      refs.map(() => true),
      "every chunk collected while the sink and the instance are still referenced",
    );
    assert.equal(sink.bytes, readFileSync(inst.tmpPath).length);
  });

test("a temporary file that cannot be created fails the sink with the reason, from the first write or the end", async () => {
  // The folder was never made: open(2) fails with ENOENT when the sink is created.
  const receiver = new FileReceiver({ tmpDir: `${tmpFile("recv")}/missing` });
  const assoc = {} as Association;
  const written = receiver.open(mrCommand("1.2.3.4.5.9"), mrContext, assoc);
  assert.equal(written.writeNow([raw(0x00080018, "UI", "1.2.3.4.5.9\0")]), false);
  await assert.rejects(finished(written), { code: "ENOENT" });
  const empty = receiver.open(mrCommand("1.2.3.4.5.10"), mrContext, assoc);
  empty.end();
  await assert.rejects(finished(empty), { code: "ENOENT" });
});

test("placeFile replaces a file of the same instance and never overwrites another one", async () => {
  const file = (uid: string) =>
    buildPart10Prefix({
      sopClassUID: "1.2.840.10008.5.1.4.1.1.7",
      sopInstanceUID: uid,
      transferSyntax: TransferSyntax.ExplicitVRLittleEndian,
    });
  const target = `${tmpFile("placed")}/a/b.dcm`;
  const put = async (uid: string) => {
    const tmp = tmpFile("part");
    writeFileSync(tmp, file(uid));
    const r = await placeFile(tmp, target, uid);
    assert.equal(existsSync(tmp), false);
    return r;
  };
  assert.deepEqual(await put("1.2.3"), { path: target, replaced: false, renamed: false });
  assert.deepEqual(await put("1.2.3"), { path: target, replaced: true, renamed: false });
  const other = target.replace(/\.dcm$/, "_1.dcm");
  assert.deepEqual(await put("1.2.4"), { path: other, replaced: false, renamed: true });
  assert.deepEqual(readFileSync(target), file("1.2.3"));
  assert.deepEqual(readFileSync(other), file("1.2.4"));
});
