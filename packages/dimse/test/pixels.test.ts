// Native pixel data as bytes (PS3.5 8.1): rectangles filled in every frame, for each planar
// configuration and sample width; expected bytes written out by hand from the standard's layout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fillRects, frameInfo, PixelDataError, type FrameInfo } from "../src/dicom/pixels.js";
import { Dataset, numberElement, textElement } from "../src/dicom/dataset.js";
import { frameInfoOf } from "./helpers.js";

/** A 3 × 2 image (8-bit MONOCHROME2 unless `o` says otherwise). */
const info = (o: Partial<FrameInfo>): FrameInfo => frameInfoOf({ rows: 2, columns: 3, ...o });

test("fillRects: 8-bit mono, two frames: the rectangle is 0 in each frame, the input buffer untouched", () => {
  // 3 × 2 pixels per frame, row by row: frame 1 = 1..6, frame 2 = 11..16.
  const input = Buffer.from([1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16]);
  const copy = Buffer.from(input);
  const out = fillRects(input, info({ frames: 2 }), [{ left: 1, top: 0, right: 3, bottom: 1 }]);
  assert.deepEqual([...out], [1, 0, 0, 4, 5, 6, 11, 0, 0, 14, 15, 16]);
  assert.ok(input.equals(copy), "the input is not modified");
});

test("fillRects: RGB interleaved (R G B per pixel) and planar (all R, all G, all B)", () => {
  const f = info({ columns: 2, rows: 1, samplesPerPixel: 3, photometricInterpretation: "RGB" });
  // Pixel 0 = (1,2,3), pixel 1 = (4,5,6); blank pixel 1.
  const rect = [{ left: 1, top: 0, right: 2, bottom: 1 }];
  assert.deepEqual([...fillRects(Buffer.from([1, 2, 3, 4, 5, 6]), f, rect)], [1, 2, 3, 0, 0, 0]);
  // Planar: R plane (1,4), G plane (2,5), B plane (3,6).
  const planar = { ...f, planarConfiguration: 1 };
  assert.deepEqual(
    [...fillRects(Buffer.from([1, 4, 2, 5, 3, 6]), planar, rect)],
    [1, 0, 2, 0, 3, 0],
  );
});

test("fillRects: 16 bits little and big endian; YBR_FULL chroma at its midpoint; rectangles clipped", () => {
  const f = info({ columns: 2, rows: 1, bitsAllocated: 16, bitsStored: 12, highBit: 11 });
  const le = Buffer.from([0x34, 0x12, 0x78, 0x56]);
  assert.deepEqual(
    [...fillRects(le, f, [{ left: 1, top: -5, right: 99, bottom: 99 }])],
    [0x34, 0x12, 0, 0],
  );
  const ybr = info({
    columns: 1,
    rows: 1,
    samplesPerPixel: 3,
    photometricInterpretation: "YBR_FULL",
  });
  assert.deepEqual(
    [...fillRects(Buffer.from([9, 9, 9]), ybr, [{ left: 0, top: 0, right: 1, bottom: 1 }])],
    [0, 128, 128],
  );
  const ybr16 = { ...ybr, bitsAllocated: 16, bitsStored: 16, highBit: 15 };
  assert.deepEqual(
    [...fillRects(Buffer.alloc(6, 9), ybr16, [{ left: 0, top: 0, right: 1, bottom: 1 }], false)],
    [0, 0, 0x80, 0, 0x80, 0],
  );
});

test("fillRects: subsampled colour, 4 samples and short pixel data are PixelDataErrors naming what was expected", () => {
  const rect = [{ left: 0, top: 0, right: 1, bottom: 1 }];
  const cases: Array<[Partial<FrameInfo>, number, RegExp]> = [
    [{ samplesPerPixel: 3, photometricInterpretation: "YBR_FULL_422" }, 18, /YBR_FULL_422/],
    [{ samplesPerPixel: 4, photometricInterpretation: "RGB" }, 24, /expected 1 or 3/],
    [{ frames: 2 }, 6, /holds 6 bytes, expected 12 \(2 frames of 2 × 3 × 1 × 1\)/],
  ];
  for (const [o, n, re] of cases)
    assert.throws(
      () => fillRects(Buffer.alloc(n), info(o), rect),
      (e: Error) => e instanceof PixelDataError && re.test(e.message),
    );
});

test("frameInfo reads big endian US values when told the dataset's byte order", () => {
  const ds = new Dataset();
  for (const [tag, v] of [
    [0x00280010, 2],
    [0x00280011, 3],
    [0x00280100, 16],
  ] as const) {
    const el = numberElement(tag, "US", v);
    el.value!.swap16();
    ds.set(el);
  }
  ds.set(textElement(0x00280004, "CS", "MONOCHROME2"));
  const f = frameInfo(ds, false);
  assert.deepEqual([f.rows, f.columns, f.bitsAllocated, f.bitsStored], [2, 3, 16, 16]);
});
