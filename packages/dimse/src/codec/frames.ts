/**
 * Encapsulated pixel data (PS3.5 A.4): the fragments of each frame, from
 * the Extended Offset Table, the Basic Offset Table, one fragment per
 * frame, or (an empty table and more fragments than frames) the codec's
 * start-of-frame marker at the start of a fragment.
 */
import type { Dataset } from "../dicom/dataset.js";

/** A compressed image that cannot be decoded: the file is not written. */
export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DecodeError";
  }
}

/** The Image Pixel attributes a decoder needs. */
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

function us(ds: Dataset, tag: number, name: string, fallback?: number): number {
  const v = ds.get(tag)?.value;
  if (v && v.length >= 2) return v.readUInt16LE(0);
  if (fallback !== undefined) return fallback;
  throw new DecodeError(`no ${name} (${tagText(tag)}): cannot decode the pixel data`);
}

function tagText(tag: number): string {
  const h = tag.toString(16).padStart(8, "0");
  return `${h.slice(0, 4)},${h.slice(4)}`;
}

/** The Image Pixel attributes of a dataset (little endian values: every encapsulated syntax is). */
export function frameInfo(ds: Dataset): FrameInfo {
  const f: FrameInfo = {
    rows: us(ds, PixelTags.Rows, "Rows"),
    columns: us(ds, PixelTags.Columns, "Columns"),
    samplesPerPixel: us(ds, PixelTags.SamplesPerPixel, "Samples per Pixel", 1),
    bitsAllocated: us(ds, PixelTags.BitsAllocated, "Bits Allocated"),
    bitsStored: 0,
    highBit: 0,
    pixelRepresentation: us(ds, PixelTags.PixelRepresentation, "Pixel Representation", 0),
    planarConfiguration: us(ds, PixelTags.PlanarConfiguration, "Planar Configuration", 0),
    photometricInterpretation: ds.string(PixelTags.PhotometricInterpretation) ?? "",
    frames: 1,
  };
  f.bitsStored = us(ds, PixelTags.BitsStored, "Bits Stored", f.bitsAllocated);
  f.highBit = us(ds, PixelTags.HighBit, "High Bit", f.bitsStored - 1);
  const nf = ds.string(PixelTags.NumberOfFrames);
  if (nf) {
    const n = Number(nf);
    if (!Number.isInteger(n) || n < 1)
      throw new DecodeError(`Number of Frames (0028,0008) is "${nf}", expected a positive integer`);
    f.frames = n;
  }
  if (f.rows < 1 || f.columns < 1)
    throw new DecodeError(`image of ${f.rows} × ${f.columns} pixels`);
  if (![1, 3, 4].includes(f.samplesPerPixel))
    throw new DecodeError(`Samples per Pixel is ${f.samplesPerPixel}, expected 1, 3 or 4`);
  if (![8, 16, 32].includes(f.bitsAllocated))
    throw new DecodeError(`Bits Allocated is ${f.bitsAllocated}, expected 8, 16 or 32`);
  if (f.bitsStored < 1 || f.bitsStored > f.bitsAllocated)
    throw new DecodeError(
      `Bits Stored is ${f.bitsStored}, expected 1 to Bits Allocated (${f.bitsAllocated})`,
    );
  return f;
}

/** Bytes of one decoded frame. */
export function frameBytes(f: FrameInfo): number {
  return f.rows * f.columns * f.samplesPerPixel * (f.bitsAllocated / 8);
}

/** A fragment begins a compressed frame: JPEG and JPEG-LS SOI, a J2K codestream (SOC) or JP2 box. */
export type FrameStart = (fragment: Buffer) => boolean;

/**
 * The compressed bytes of each frame. `fragments[0]` is the Basic Offset
 * Table; `eot` the Extended Offset Table (7FE0,0001), when present.
 */
export function splitFrames(
  fragments: Buffer[],
  frames: number,
  o: { eot?: Buffer; startsFrame?: FrameStart } = {},
): Buffer[] {
  const bot = fragments[0];
  const items = fragments.slice(1);
  if (bot === undefined || items.length === 0)
    throw new DecodeError("encapsulated pixel data holds no fragments");
  if (frames === 1) return [items.length === 1 ? items[0]! : Buffer.concat(items)];
  let offsets: number[] | undefined;
  if (o.eot && o.eot.length >= frames * 8) {
    offsets = [];
    for (let i = 0; i < frames; i++) offsets.push(Number(o.eot.readBigUInt64LE(i * 8)));
  } else if (bot.length >= frames * 4) {
    offsets = [];
    for (let i = 0; i < frames; i++) offsets.push(bot.readUInt32LE(i * 4));
  }
  if (offsets) {
    // Offsets count from the first fragment's item tag: map them to fragment indices.
    const startOf = new Map<number, number>();
    let pos = 0;
    items.forEach((it, i) => {
      startOf.set(pos, i);
      pos += 8 + it.length;
    });
    const first: number[] = [];
    for (let i = 0; i < frames; i++) {
      const idx = startOf.get(offsets[i]!);
      if (idx === undefined || (i > 0 && idx <= first[i - 1]!))
        throw new DecodeError(
          `offset table entry ${i + 1} (${offsets[i]}) does not point at a fragment after the previous frame's`,
        );
      first.push(idx);
    }
    return first.map((s, i) => join(items.slice(s, i + 1 < frames ? first[i + 1] : items.length)));
  }
  if (items.length === frames) return items;
  if (o.startsFrame && items.length > frames) {
    const out: Buffer[][] = [];
    for (const it of items) {
      if (out.length === 0 || o.startsFrame(it)) out.push([it]);
      else out[out.length - 1]!.push(it);
    }
    if (out.length === frames) return out.map(join);
  }
  throw new DecodeError(
    `${items.length} fragments for ${frames} frames and no offset table: cannot tell the frames apart`,
  );
}

function join(parts: Buffer[]): Buffer {
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** JPEG (ISO 10918) and JPEG-LS streams start with SOI. */
export const jpegStart: FrameStart = (b) => b.length >= 2 && b[0] === 0xff && b[1] === 0xd8;
/** A J2K codestream starts with SOC and SIZ; a JP2 file with its signature box. */
export const j2kStart: FrameStart = (b) =>
  (b.length >= 4 && b[0] === 0xff && b[1] === 0x4f && b[2] === 0xff && b[3] === 0x51) ||
  (b.length >= 8 && b.toString("latin1", 4, 8) === "jP  ");
