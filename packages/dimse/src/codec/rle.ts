/**
 * RLE Lossless (PS3.5 Annex G): one frame is a 64-byte header (the number
 * of segments and up to 15 offsets, little endian) and byte segments, one
 * per byte plane, most significant byte of each sample first; a segment is
 * PackBits runs (n ≥ 0: copy n + 1 bytes; -127 ≤ n ≤ -1: repeat the next
 * byte 1 - n times; -128: nothing).
 */
import type { FrameInfo } from "../dicom/pixels.js";
import { DecodeError } from "./frames.js";

/** Decode one RLE frame into interleaved (Planar Configuration 0) little-endian pixels. */
export function decodeRleFrame(frame: Buffer, f: FrameInfo, index: number): Buffer {
  const where = `RLE frame ${index + 1}`;
  if (f.bitsAllocated % 8 !== 0)
    throw new DecodeError(`${where}: Bits Allocated ${f.bitsAllocated} is not a multiple of 8`);
  const bytesPerSample = f.bitsAllocated / 8;
  const planes = f.samplesPerPixel * bytesPerSample;
  if (frame.length < 64) throw new DecodeError(`${where}: ${frame.length} bytes, no RLE header`);
  const segments = frame.readUInt32LE(0);
  if (segments !== planes)
    throw new DecodeError(
      `${where}: ${segments} segments, expected ${planes} (${f.samplesPerPixel} samples of ${bytesPerSample} bytes)`,
    );
  if (planes > 15) throw new DecodeError(`${where}: more than 15 segments`);
  const offsets: number[] = [];
  for (let i = 0; i < segments; i++) offsets.push(frame.readUInt32LE(4 + i * 4));
  const pixels = f.rows * f.columns;
  // A PackBits byte pair yields at most 128 bytes: a frame cannot hold more than that.
  if (pixels * planes > (frame.length - 64) * 64 + 128 * planes)
    throw new DecodeError(
      `${where}: ${frame.length} bytes cannot hold ${f.rows} × ${f.columns} pixels of ${planes} bytes`,
    );
  const out = Buffer.alloc(pixels * planes);
  const plane = Buffer.allocUnsafe(pixels);
  for (let s = 0; s < segments; s++) {
    const start = offsets[s]!;
    const end = s + 1 < segments ? offsets[s + 1]! : frame.length;
    if (start < 64 || end > frame.length || start > end)
      throw new DecodeError(`${where}: segment ${s + 1} offset ${start} is outside the frame`);
    const n = unpackBits(frame, start, end, plane);
    if (n < pixels)
      throw new DecodeError(
        `${where}: segment ${s + 1} decodes to ${n} bytes, expected ${pixels} (rows × columns)`,
      );
    // Segment s is byte (bytesPerSample - 1 - s % bytesPerSample) of sample floor(s / bytesPerSample).
    const sample = Math.floor(s / bytesPerSample);
    const byte = bytesPerSample - 1 - (s % bytesPerSample);
    let o = sample * bytesPerSample + byte;
    for (let p = 0; p < pixels; p++, o += planes) out[o] = plane[p]!;
  }
  return out;
}

/** PackBits from `src[start, end)` into `dst` (stops when full); returns the bytes written. */
function unpackBits(src: Buffer, start: number, end: number, dst: Buffer): number {
  let i = start;
  let o = 0;
  const cap = dst.length;
  while (i < end && o < cap) {
    const n = src[i++]!;
    if (n < 128) {
      const len = Math.min(n + 1, end - i, cap - o);
      src.copy(dst, o, i, i + len);
      i += n + 1;
      o += len;
    } else if (n > 128) {
      if (i >= end) break;
      const len = Math.min(257 - n, cap - o);
      dst.fill(src[i++]!, o, o + len);
      o += len;
    }
  }
  return o;
}
