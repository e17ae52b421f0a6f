// Receiving instances into files (src/net/storage.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { finished } from "node:stream/promises";
import { buildPart10Prefix, TransferSyntax } from "../src/dicom/index.js";
import {
  FileReceiver,
  type InstanceFileSink,
  placeFile,
  type Association,
} from "../src/net/index.js";
import { raw, tmpFile } from "./helpers.js";

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
