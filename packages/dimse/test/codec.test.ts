/**
 * The decoding layer's own parts: the RLE decoder (PS3.5 Annex G, frames
 * built here by hand from the standard's definition), frame splitting
 * (PS3.5 A.4), hostile input, unsupported syntaxes, and lazy loading of
 * the WebAssembly decoders. Equality with DCMTK and GDCM on real files is
 * in test/interop/decompress.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { DecodeError, decodeRleFrame, decompressPart10, splitFrames } from "../src/codec/index.js";
import { Dataset, numberElement, textElement } from "../src/dicom/dataset.js";
import { encodePart10 } from "../src/dicom/part10.js";
import { frameInfoOf } from "./helpers.js";

const info = frameInfoOf;

/** An RLE frame: header (segment count, offsets) and the segments as given. */
function rleFrame(segments: number[][]): Buffer {
  const head = Buffer.alloc(64);
  head.writeUInt32LE(segments.length, 0);
  let off = 64;
  segments.forEach((s, i) => {
    head.writeUInt32LE(off, 4 + i * 4);
    off += s.length;
  });
  return Buffer.concat([head, ...segments.map((s) => Buffer.from(s))]);
}

test("RLE: literal and replicate runs; -128 is a no-op", () => {
  // 0x02 a b c: 3 literal bytes; 0xfe x: x three times (257 - 254); 0x80: nothing.
  const frame = rleFrame([[0x02, 10, 20, 30, 0x80, 0xfe, 7]]);
  const out = decodeRleFrame(frame, info({ columns: 6 }), 0);
  assert.deepEqual([...out], [10, 20, 30, 7, 7, 7]);
});

test("RLE: 16-bit samples, most significant byte segment first, output little endian", () => {
  // Pixels 0x0102 and 0x0304: segment 1 = high bytes, segment 2 = low bytes.
  const frame = rleFrame([
    [0x01, 0x01, 0x03],
    [0x01, 0x02, 0x04],
  ]);
  const out = decodeRleFrame(frame, info({ columns: 2, bitsAllocated: 16, bitsStored: 16 }), 0);
  assert.deepEqual([...out], [0x02, 0x01, 0x04, 0x03]);
});

test("RLE: colour segments (R, G, B planes) come out interleaved (Planar Configuration 0)", () => {
  const frame = rleFrame([
    [0xff, 1],
    [0xff, 2],
    [0xff, 3],
  ]);
  const out = decodeRleFrame(frame, info({ columns: 2, samplesPerPixel: 3 }), 0);
  assert.deepEqual([...out], [1, 2, 3, 1, 2, 3]);
});

test("RLE: hostile frames are a DecodeError naming the frame and what was expected", () => {
  const f = info({ columns: 4 });
  assert.throws(
    () => decodeRleFrame(Buffer.alloc(10), f, 2),
    (e: Error) => e instanceof DecodeError && /frame 3/.test(e.message),
  );
  assert.throws(() => decodeRleFrame(rleFrame([[0], [0]]), f, 0), /2 segments, expected 1/);
  assert.throws(
    () => decodeRleFrame(rleFrame([[0x01, 1, 2]]), f, 0),
    /decodes to 2 bytes, expected 4/,
  );
  const bad = rleFrame([[0xfd, 9]]);
  bad.writeUInt32LE(1_000_000, 4);
  assert.throws(() => decodeRleFrame(bad, f, 0), /outside the frame/);
  // A literal run claiming more bytes than the segment holds stops at its end.
  assert.throws(() => decodeRleFrame(rleFrame([[0x7f, 1]]), f, 0), /decodes to 1 bytes/);
});

const frag = (...b: number[]) => Buffer.from(b);

test("frames: one fragment per frame, or by the Basic Offset Table", () => {
  const a = frag(0xff, 0xd8, 1, 2);
  const b = frag(0xff, 0xd8, 3, 4);
  const c = frag(5, 6);
  assert.deepEqual(splitFrames([Buffer.alloc(0), a, b], 2), [a, b]);
  const bot = Buffer.alloc(8);
  bot.writeUInt32LE(0, 0);
  bot.writeUInt32LE(8 + a.length + 8 + c.length, 4);
  assert.deepEqual(splitFrames([bot, a, c, b], 2), [Buffer.concat([a, c]), b]);
  // One frame: every fragment.
  assert.deepEqual(splitFrames([Buffer.alloc(0), a, c], 1), [Buffer.concat([a, c])]);
});

test("frames: an empty table and more fragments than frames split at each SOI", () => {
  const a = frag(0xff, 0xd8, 1, 2);
  const b = frag(0xff, 0xd8, 3, 4);
  const c = frag(5, 6);
  const start = (x: Buffer) => x[0] === 0xff && x[1] === 0xd8;
  assert.deepEqual(splitFrames([Buffer.alloc(0), a, c, b], 2, { startsFrame: start }), [
    Buffer.concat([a, c]),
    b,
  ]);
  assert.throws(
    () => splitFrames([Buffer.alloc(0), a, c, c], 2, { startsFrame: start }),
    DecodeError,
  );
});

test("frames: an offset table that points between fragments is a DecodeError", () => {
  const bot = Buffer.alloc(8);
  bot.writeUInt32LE(0, 0);
  bot.writeUInt32LE(3, 4);
  assert.throws(() => splitFrames([bot, frag(1, 2), frag(3, 4)], 2), /entry 2 \(3\)/);
  assert.throws(() => splitFrames([Buffer.alloc(0)], 1), /no fragments/);
});

function encapsulated(ts: string, fragments: Buffer[], extra: (ds: Dataset) => void = () => {}) {
  const ds = new Dataset();
  ds.set(textElement(0x00080016, "UI", "1.2.840.10008.5.1.4.1.1.7"));
  ds.set(textElement(0x00080018, "UI", "2.25.1234"));
  ds.set(numberElement(0x00280002, "US", 1));
  ds.set(textElement(0x00280004, "CS", "MONOCHROME2"));
  ds.set(numberElement(0x00280010, "US", 1));
  ds.set(numberElement(0x00280011, "US", 4));
  ds.set(numberElement(0x00280100, "US", 8));
  ds.set(numberElement(0x00280101, "US", 8));
  ds.set(numberElement(0x00280102, "US", 7));
  ds.set(numberElement(0x00280103, "US", 0));
  extra(ds);
  ds.set({
    tag: 0x7fe00010,
    vr: "OB",
    fragments: [Buffer.alloc(0), ...fragments],
    undefinedLength: true,
  });
  return encodePart10(ds, { transferSyntax: ts });
}

test("decompressPart10: an RLE file becomes Explicit VR Little Endian with native pixels", async () => {
  const file = encapsulated("1.2.840.10008.1.2.5", [rleFrame([[0x03, 1, 2, 3, 4]])]);
  const d = await decompressPart10(file);
  assert.ok(d);
  assert.equal(d.transferSyntax, "1.2.840.10008.1.2.1");
  const out = Buffer.concat(d.parts);
  assert.equal(out.toString("latin1", 128, 132), "DICM");
  // (7FE0,0010) OB, explicit length 4, the decoded bytes.
  const at = out.indexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0, 0, 4, 0, 0, 0]));
  assert.ok(at > 0);
  assert.deepEqual([...out.subarray(at + 12, at + 16)], [1, 2, 3, 4]);
  assert.equal(d.lossy, false);
});

test("decompressPart10: a syntax without a decoder is a DecodeError naming it; uncompressed files are left alone", async () => {
  const mpeg = encapsulated("1.2.840.10008.1.2.4.100", [frag(0, 0, 1, 0xb3)]);
  await assert.rejects(decompressPart10(mpeg), (e: Error) => {
    assert.ok(e instanceof DecodeError);
    assert.match(e.message, /1\.2\.840\.10008\.1\.2\.4\.100/);
    assert.match(e.message, /no decoder/);
    return true;
  });
  const ds = new Dataset();
  ds.set(textElement(0x00080016, "UI", "1.2.840.10008.5.1.4.1.1.7"));
  ds.set(textElement(0x00080018, "UI", "2.25.5"));
  const plain = encodePart10(ds, { transferSyntax: "1.2.840.10008.1.2" });
  assert.equal(await decompressPart10(plain), undefined);
  assert.ok(await decompressPart10(plain, "explicit-little"));
});

test("decompressPart10: a corrupt JPEG stream is a DecodeError, not a crash, each time it is met", async () => {
  const bad = encapsulated("1.2.840.10008.1.2.4.70", [
    frag(0xff, 0xd8, 0xff, 0xc3, 0, 2, 0xff, 0xd9),
  ]);
  await assert.rejects(decompressPart10(bad), DecodeError);
  await assert.rejects(decompressPart10(bad), DecodeError);
});

test("no WebAssembly is loaded for RLE and deflate; it is for JPEG", () => {
  const here = fileURLToPath(new URL(".", import.meta.url));
  const script = `
    import { decompressPart10 } from "../src/codec/index.js";
    import { Dataset, numberElement, textElement } from "../src/dicom/dataset.js";
    import { encodePart10 } from "../src/dicom/part10.js";
    const { createRequire } = await import("node:module");
    const seen = () => Object.keys(createRequire(import.meta.url).cache).some((p) => p.includes("dcmjs-codecs"));
    const ds = new Dataset();
    ds.set(textElement(0x00080016, "UI", "1.2.840.10008.5.1.4.1.1.7"));
    ds.set(textElement(0x00080018, "UI", "2.25.9"));
    for (const [t, v] of [[0x00280002, 1], [0x00280010, 1], [0x00280011, 2], [0x00280100, 8], [0x00280101, 8], [0x00280102, 7], [0x00280103, 0]]) ds.set(numberElement(t, "US", v));
    ds.set(textElement(0x00280004, "CS", "MONOCHROME2"));
    ds.set({ tag: 0x7fe00010, vr: "OB", value: Buffer.from([1, 2]) });
    await decompressPart10(encodePart10(ds, { transferSyntax: "1.2.840.10008.1.2.1.99" }));
    const rle = Buffer.alloc(68); rle.writeUInt32LE(1, 0); rle.writeUInt32LE(64, 4); rle[64] = 0x01; rle[65] = 5; rle[66] = 6;
    ds.set({ tag: 0x7fe00010, vr: "OB", fragments: [Buffer.alloc(0), rle.subarray(0, 67)], undefinedLength: true });
    await decompressPart10(encodePart10(ds, { transferSyntax: "1.2.840.10008.1.2.5" }));
    const before = seen();
    ds.set({ tag: 0x7fe00010, vr: "OB", fragments: [Buffer.alloc(0), Buffer.from([0xff, 0xd8, 0xff, 0xd9])], undefinedLength: true });
    await decompressPart10(encodePart10(ds, { transferSyntax: "1.2.840.10008.1.2.4.70" })).catch(() => {});
    console.log(JSON.stringify({ before, after: seen() }));
  `;
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    cwd: here,
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim().split("\n").pop()!), { before: false, after: true });
});

test("hostile sizes: an RLE frame too small for its image, and more pixels than a buffer holds, are DecodeErrors before any allocation", async () => {
  const huge = info({ rows: 65535, columns: 65535, bitsAllocated: 32, samplesPerPixel: 3 });
  assert.throws(
    () =>
      decodeRleFrame(rleFrame([[0xff, 1]]), { ...huge, samplesPerPixel: 1, bitsAllocated: 8 }, 0),
    /cannot hold 65535 × 65535 pixels/,
  );
  const file = encapsulated("1.2.840.10008.1.2.5", [rleFrame([[0x03, 1, 2, 3, 4]])], (ds) => {
    ds.set(numberElement(0x00280010, "US", 65535));
    ds.set(numberElement(0x00280011, "US", 65535));
    ds.set(numberElement(0x00280002, "US", 3));
  });
  await assert.rejects(decompressPart10(file), /more than \d+ bytes decoded/);
});
