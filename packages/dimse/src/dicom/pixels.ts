/**
 * The Image Pixel module's geometry (PS3.3 C.7.6.3) and native pixel data
 * (PS3.5 8.1) as bytes: which bytes hold a pixel of a frame, whatever the
 * samples, their width and the planar configuration. Nothing is decoded.
 */
import type { Dataset } from "./dataset.js";

/** The Image Pixel attributes of a dataset. */
export interface FrameInfo {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  pixelRepresentation: number;
  planarConfiguration: number;
  photometricInterpretation: string;
  frames: number;
}

export const PixelTags = {
  SamplesPerPixel: 0x00280002,
  PhotometricInterpretation: 0x00280004,
  PlanarConfiguration: 0x00280006,
  NumberOfFrames: 0x00280008,
  Rows: 0x00280010,
  Columns: 0x00280011,
  BitsAllocated: 0x00280100,
  BitsStored: 0x00280101,
  HighBit: 0x00280102,
  PixelRepresentation: 0x00280103,
  LossyImageCompression: 0x00282110,
  LossyImageCompressionRatio: 0x00282112,
  LossyImageCompressionMethod: 0x00282114,
  ExtendedOffsetTable: 0x7fe00001,
  ExtendedOffsetTableLengths: 0x7fe00002,
  PixelData: 0x7fe00010,
} as const;

/** Image Pixel attributes missing or out of range, or pixel data that does not fit them. */
export class PixelDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PixelDataError";
  }
}

function us(ds: Dataset, tag: number, name: string, little: boolean, fallback?: number): number {
  const v = ds.get(tag)?.value;
  if (v && v.length >= 2) return little ? v.readUInt16LE(0) : v.readUInt16BE(0);
  if (fallback !== undefined) return fallback;
  throw new PixelDataError(`no ${name} (${tagText(tag)})`);
}

function tagText(tag: number): string {
  const h = tag.toString(16).padStart(8, "0");
  return `${h.slice(0, 4)},${h.slice(4)}`;
}

/** The Image Pixel attributes of a dataset (`little`: its byte order; every encapsulated syntax is little endian). */
export function frameInfo(ds: Dataset, little = true): FrameInfo {
  const f: FrameInfo = {
    rows: us(ds, PixelTags.Rows, "Rows", little),
    columns: us(ds, PixelTags.Columns, "Columns", little),
    samplesPerPixel: us(ds, PixelTags.SamplesPerPixel, "Samples per Pixel", little, 1),
    bitsAllocated: us(ds, PixelTags.BitsAllocated, "Bits Allocated", little),
    bitsStored: 0,
    highBit: 0,
    pixelRepresentation: us(ds, PixelTags.PixelRepresentation, "Pixel Representation", little, 0),
    planarConfiguration: us(ds, PixelTags.PlanarConfiguration, "Planar Configuration", little, 0),
    photometricInterpretation: ds.string(PixelTags.PhotometricInterpretation) ?? "",
    frames: 1,
  };
  f.bitsStored = us(ds, PixelTags.BitsStored, "Bits Stored", little, f.bitsAllocated);
  f.highBit = us(ds, PixelTags.HighBit, "High Bit", little, f.bitsStored - 1);
  const nf = ds.string(PixelTags.NumberOfFrames);
  if (nf) {
    const n = Number(nf);
    if (!Number.isInteger(n) || n < 1)
      throw new PixelDataError(
        `Number of Frames (0028,0008) is "${nf}", expected a positive integer`,
      );
    f.frames = n;
  }
  if (f.rows < 1 || f.columns < 1)
    throw new PixelDataError(`image of ${f.rows} × ${f.columns} pixels`);
  if (![1, 3, 4].includes(f.samplesPerPixel))
    throw new PixelDataError(`Samples per Pixel is ${f.samplesPerPixel}, expected 1, 3 or 4`);
  if (![8, 16, 32].includes(f.bitsAllocated))
    throw new PixelDataError(`Bits Allocated is ${f.bitsAllocated}, expected 8, 16 or 32`);
  if (f.bitsStored < 1 || f.bitsStored > f.bitsAllocated)
    throw new PixelDataError(
      `Bits Stored is ${f.bitsStored}, expected 1 to Bits Allocated (${f.bitsAllocated})`,
    );
  return f;
}

/** Bytes of one decoded frame. */
export function frameBytes(f: FrameInfo): number {
  return f.rows * f.columns * f.samplesPerPixel * (f.bitsAllocated / 8);
}

/** A rectangle of pixels: columns `left` to `right - 1`, rows `top` to `bottom - 1`, inside the image. */
export interface PixelRect {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** Photometric interpretations whose native pixels are one value per sample and pixel (no subsampling). */
const FILLABLE = new Set(["MONOCHROME1", "MONOCHROME2", "PALETTE COLOR", "RGB", "YBR_FULL"]);

/**
 * Native pixel data with every rectangle of every frame set to one value per sample: a new
 * buffer (the input is not modified). The value is 0, but for YBR_FULL's two chroma samples,
 * which get their midpoint (2^(Bits Stored − 1): black, not green). Samples per Pixel 1 or 3,
 * Planar Configuration 0 (interleaved) or 1 (a plane per sample), Bits Allocated 8, 16 or 32.
 * Throws PixelDataError when the geometry is not one of these or the data is shorter than the
 * frames it should hold.
 */
export function fillRects(
  pixels: Buffer,
  f: FrameInfo,
  rects: readonly PixelRect[],
  little = true,
): Buffer {
  const pi = f.photometricInterpretation.toUpperCase();
  if (!FILLABLE.has(pi))
    throw new PixelDataError(
      `Photometric Interpretation ${pi || "(none)"}: only ${[...FILLABLE].join(", ")} pixels are redacted as bytes`,
    );
  if (f.samplesPerPixel !== 1 && f.samplesPerPixel !== 3)
    throw new PixelDataError(`Samples per Pixel is ${f.samplesPerPixel}, expected 1 or 3`);
  const size = frameBytes(f);
  if (pixels.length < size * f.frames)
    throw new PixelDataError(
      `Pixel Data holds ${pixels.length} bytes, expected ${size * f.frames} (${f.frames} frames of ${f.rows} × ${f.columns} × ${f.samplesPerPixel} × ${f.bitsAllocated / 8})`,
    );
  const width = f.bitsAllocated / 8;
  const sample = (s: number): Buffer => {
    const b = Buffer.alloc(width);
    const v = pi === "YBR_FULL" && s > 0 ? 2 ** (f.bitsStored - 1) : 0;
    if (width === 1) b.writeUInt8(v);
    else if (width === 2) little ? b.writeUInt16LE(v) : b.writeUInt16BE(v);
    else little ? b.writeUInt32LE(v) : b.writeUInt32BE(v);
    return b;
  };
  const out = Buffer.from(pixels);
  const planar = f.samplesPerPixel > 1 && f.planarConfiguration === 1;
  // Interleaved: a pixel's samples side by side, one pattern; planar: a plane per sample.
  const planes = planar
    ? Array.from({ length: f.samplesPerPixel }, (_, s) => ({
        offset: s * f.rows * f.columns * width,
        stride: width,
        fill: sample(s),
      }))
    : [
        {
          offset: 0,
          stride: width * f.samplesPerPixel,
          fill: Buffer.concat(Array.from({ length: f.samplesPerPixel }, (_, s) => sample(s))),
        },
      ];
  for (let frame = 0; frame < f.frames; frame++) {
    for (const p of planes) {
      const base = frame * size + p.offset;
      for (const r of rects) {
        const left = Math.max(0, r.left);
        const right = Math.min(f.columns, r.right);
        if (left >= right) continue;
        for (let row = Math.max(0, r.top); row < Math.min(f.rows, r.bottom); row++) {
          const start = base + (row * f.columns + left) * p.stride;
          out.fill(p.fill, start, start + (right - left) * p.stride);
        }
      }
    }
  }
  return out;
}
