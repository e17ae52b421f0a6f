/**
 * Decompression: a dataset in a compressed transfer syntax (encapsulated
 * pixel data, or deflated) to Explicit VR Little Endian with native pixel
 * data and the Image Pixel attributes of what was decoded. RLE is decoded
 * here; JPEG, JPEG-LS, JPEG 2000 and HTJ2K by dcmjs-codecs' WebAssembly,
 * loaded only when a file needs it (see README "Decompression").
 */
import { constants } from "node:buffer";
import { readFile } from "node:fs/promises";
import {
  type Dataset,
  encodeDatasetParts,
  numberElement,
  parseDataset,
  textElement,
} from "../dicom/dataset.js";
import { Tags } from "../dicom/dict.js";
import { buildPart10Prefix, parsePart10 } from "../dicom/part10.js";
import { syntaxInfo, syntaxName, TransferSyntax } from "../dicom/syntax.js";
import { writeFileAtomic } from "../io/atomic.js";
import {
  frameBytes,
  frameInfo,
  PixelDataError,
  PixelTags,
  type FrameInfo,
} from "../dicom/pixels.js";
import { DecodeError, type FrameStart, j2kStart, jpegStart, splitFrames } from "./frames.js";
import { decodeNative, type NativeKind } from "./native.js";
import { decodeRleFrame } from "./rle.js";
import { CODECS, decodableSyntax } from "./syntaxes.js";

export { DecodeError, splitFrames } from "./frames.js";
export type { FrameInfo } from "../dicom/pixels.js";
export { decodeRleFrame } from "./rle.js";
export { loadNative } from "./native.js";
export { decodableSyntax } from "./syntaxes.js";

/** A compressed syntax: encapsulated pixel data, or deflated. */
export function isCompressedSyntax(uid: string): boolean {
  const i = syntaxInfo(uid);
  return i.encapsulated || i.deflated;
}

/** We can decode this syntax (deflate included). */
export function canDecompress(uid: string): boolean {
  return uid === TransferSyntax.DeflatedExplicitVRLittleEndian || decodableSyntax(uid);
}

/** The transfer syntaxes `decompress` decodes (compressed ones only). */
export const DECODABLE_SYNTAXES: readonly string[] = [
  TransferSyntax.DeflatedExplicitVRLittleEndian,
  ...Object.keys(CODECS),
];

export interface DecodeResult {
  /** The source was lossy (now marked in (0028,2110)). */
  lossy: boolean;
  frames: number;
}

/** The Image Pixel attributes (little endian values: every encapsulated syntax is); DecodeError when they do not describe an image. */
function imageOf(ds: Dataset): FrameInfo {
  try {
    return frameInfo(ds);
  } catch (e) {
    if (e instanceof PixelDataError)
      throw new DecodeError(
        e.message.startsWith("no ") ? `${e.message}: cannot decode the pixel data` : e.message,
      );
    throw e;
  }
}

/**
 * Decode the pixel data of a dataset parsed from `transferSyntax`, in place:
 * native Pixel Data (OB for 8 bits, else OW), Planar Configuration 0, the
 * Photometric Interpretation of the decoded pixels, and the Lossy Image
 * Compression attributes of a lossy source. A dataset without encapsulated
 * pixel data is left as it is. Throws DecodeError.
 */
export async function decodePixelData(ds: Dataset, transferSyntax: string): Promise<DecodeResult> {
  const px = ds.get(Tags.PixelData);
  if (!px?.fragments) return { lossy: false, frames: 0 };
  const codec = decodableSyntax(transferSyntax) ? CODECS[transferSyntax] : undefined;
  if (!codec)
    throw new DecodeError(
      `cannot decode ${syntaxName(transferSyntax)} (${transferSyntax}): no decoder for this transfer syntax`,
    );
  const f = imageOf(ds);
  const startsFrame: FrameStart | undefined =
    codec.kind === "jpeg" || codec.kind === "jpegls"
      ? jpegStart
      : codec.kind === "rle"
        ? undefined
        : j2kStart;
  const frames = splitFrames(px.fragments, f.frames, {
    eot: ds.get(PixelTags.ExtendedOffsetTable)?.value,
    startsFrame,
  });
  const want = frameBytes(f);
  // Rows, Columns and Number of Frames come from the file: no allocation beyond what a buffer can hold.
  if (want * frames.length > MAX_LENGTH)
    throw new DecodeError(
      `${frames.length} frames of ${f.rows} × ${f.columns} × ${f.samplesPerPixel} × ${f.bitsAllocated / 8} bytes: more than ${MAX_LENGTH} bytes decoded`,
    );
  const out: Buffer[] = [];
  let photometric = f.photometricInterpretation;
  for (let i = 0; i < frames.length; i++) {
    const frame = frames[i]!;
    if (codec.kind === "rle") {
      out.push(decodeRleFrame(frame, f, i));
      continue;
    }
    const d = await decodeNative(codec.kind, frame, f, i);
    if (d.bitsAllocated !== f.bitsAllocated || d.samplesPerPixel !== f.samplesPerPixel)
      throw new DecodeError(
        `frame ${i + 1}: the ${codec.kind} stream holds ${d.samplesPerPixel} samples of ${d.bitsAllocated} bits, the dataset says ${f.samplesPerPixel} of ${f.bitsAllocated}`,
      );
    let pixels = d.pixels;
    if (pixels.length === want + 1) pixels = pixels.subarray(0, want);
    if (pixels.length !== want)
      throw new DecodeError(
        `frame ${i + 1}: decoded ${pixels.length} bytes, expected ${want} (${f.rows} × ${f.columns} × ${f.samplesPerPixel} × ${f.bitsAllocated / 8})`,
      );
    out.push(pixels);
    if (i === 0)
      photometric = decodedPhotometric(codec.kind, f, d.photometricInterpretation, frame);
  }
  let data = Buffer.concat(out);
  const compressedBytes = px.fragments.slice(1).reduce((n, b) => n + b.length, 0);
  if (data.length % 2 === 1) data = Buffer.concat([data, Buffer.alloc(1)]);
  ds.set({ tag: Tags.PixelData, vr: f.bitsAllocated <= 8 ? "OB" : "OW", value: data });
  ds.delete(PixelTags.ExtendedOffsetTable);
  ds.delete(PixelTags.ExtendedOffsetTableLengths);
  if (f.samplesPerPixel > 1) ds.set(numberElement(PixelTags.PlanarConfiguration, "US", 0));
  if (photometric !== f.photometricInterpretation)
    ds.set(textElement(PixelTags.PhotometricInterpretation, "CS", photometric));
  const lossy =
    codec.lossy === "always" ||
    (codec.lossy === "wavelet" && frames[0] !== undefined && j2kCoding(frames[0]).irreversible);
  if (lossy) markLossy(ds, codec.method!, (want * frames.length) / Math.max(1, compressedBytes));
  return { lossy, frames: frames.length };
}

/** The Photometric Interpretation of decoded pixels. */
function decodedPhotometric(
  kind: NativeKind,
  f: FrameInfo,
  fromDecoder: string,
  frame: Buffer,
): string {
  const pi = f.photometricInterpretation;
  if (f.samplesPerPixel === 1) return pi;
  if (kind === "jpeg") {
    // libjpeg converts YCbCr to RGB when asked, and always upsamples 4:2:2.
    if (fromDecoder === "YBR_FULL_422") return "YBR_FULL";
    return fromDecoder || pi;
  }
  if (kind === "j2k" || kind === "htj2k") {
    // The decoder undoes the multiple component transform (RCT or ICT).
    if (pi === "YBR_RCT" || pi === "YBR_ICT" || j2kCoding(frame).mct) return "RGB";
  }
  return pi;
}

/** The J2K main header's coding style (COD): irreversible 9-7 wavelet, multiple component transform. */
export function j2kCoding(stream: Buffer): { irreversible: boolean; mct: boolean } {
  let p = stream.indexOf(Buffer.from([0xff, 0x4f, 0xff, 0x51]));
  if (p < 0) return { irreversible: false, mct: false };
  p += 2;
  while (p + 4 <= stream.length) {
    if (stream[p] !== 0xff) break;
    const marker = stream[p + 1]!;
    const len = stream.readUInt16BE(p + 2);
    if (marker === 0x90 || marker === 0x93) break; // SOT, SOD
    if (marker === 0x52 && p + 2 + len <= stream.length && len >= 12) {
      // Lcod, Scod, SGcod (progression, layers ×2, MCT), SPcod (levels, xcb, ycb, style, transform).
      const mct = stream[p + 8] === 1;
      const irreversible = stream[p + 13] === 0;
      return { irreversible, mct };
    }
    p += 2 + len;
  }
  return { irreversible: false, mct: false };
}

/**
 * (0028,2110) "01"; (0028,2112) and (0028,2114) for this compression
 * unless the source already names its lossy method (the encoder's values
 * are kept).
 */
function markLossy(ds: Dataset, method: string, ratio: number): void {
  const had = ds.string(PixelTags.LossyImageCompression) === "01";
  ds.set(textElement(PixelTags.LossyImageCompression, "CS", "01"));
  if (had && ds.has(PixelTags.LossyImageCompressionMethod)) return;
  ds.set(textElement(PixelTags.LossyImageCompressionRatio, "DS", ratioText(ratio)));
  ds.set(textElement(PixelTags.LossyImageCompressionMethod, "CS", method));
}

/** A DS value of at most 16 characters. */
function ratioText(r: number): string {
  return String(Number(r.toFixed(r >= 1000 ? 0 : 3)));
}

/**
 * The dataset of a file in an encapsulated syntax (bytes after the file
 * meta group), decoded: for sending in an uncompressed syntax.
 */
export async function decodeDataset(data: Buffer, transferSyntax: string): Promise<Dataset> {
  const ds = parseDataset(data, transferSyntax);
  await decodePixelData(ds, transferSyntax);
  return ds;
}

const MAX_LENGTH = constants.MAX_LENGTH;

export type DecompressMode =
  /** Compressed syntaxes (encapsulated, deflated) to Explicit VR Little Endian; others as they are. */
  | "compressed"
  /** Every syntax to Explicit VR Little Endian (DCMTK's `+te`). */
  | "explicit-little";

export interface Decompressed {
  /** The new file: parts for a vectored write. */
  parts: Buffer[];
  from: string;
  transferSyntax: string;
  lossy: boolean;
}

/**
 * A Part 10 file (in memory) decoded to Explicit VR Little Endian, with a
 * rebuilt File Meta Information group (new transfer syntax and group
 * length; SOP UIDs and Source AE Title kept). Undefined when the file
 * needs nothing done in this mode. Throws DecodeError (the caller writes
 * nothing). `edit` changes the decoded dataset before it is encoded (and
 * may throw, for the caller).
 */
export async function decompressPart10(
  buf: Buffer,
  mode: DecompressMode = "compressed",
  edit?: (decoded: Dataset) => void,
): Promise<Decompressed | undefined> {
  const { header, dataset } = parsePart10(buf);
  const from = header.transferSyntax;
  const target = TransferSyntax.ExplicitVRLittleEndian;
  if (from === target) return undefined;
  if (mode === "compressed" && !isCompressedSyntax(from)) return undefined;
  const info = syntaxInfo(from);
  if (info.encapsulated && !decodableSyntax(from))
    throw new DecodeError(
      `cannot decode ${syntaxName(from)} (${from}): no decoder for this transfer syntax`,
    );
  const { lossy } = await decodePixelData(dataset, from);
  edit?.(dataset);
  const prefix = buildPart10Prefix({
    sopClassUID: header.meta.string(Tags.MediaStorageSOPClassUID) || header.sopClassUID,
    sopInstanceUID: header.meta.string(Tags.MediaStorageSOPInstanceUID) || header.sopInstanceUID,
    transferSyntax: target,
    sourceAet: header.meta.string(Tags.SourceApplicationEntityTitle) || undefined,
  });
  return {
    parts: [prefix, ...encodeDatasetParts(dataset, target, info.little)],
    from,
    transferSyntax: target,
    lossy,
  };
}

/**
 * Decode the file at `path` and write the result to `to` (default: in
 * place) atomically (temporary file, fsync unless `fsync: false`, rename).
 * Returns what was done, or undefined when the file was left as it is.
 */
export async function decompressFile(
  path: string,
  o: { to?: string; mode?: DecompressMode; fsync?: boolean } = {},
): Promise<Decompressed | undefined> {
  const d = await decompressPart10(await readFile(path), o.mode);
  if (d) await writeFileAtomic(o.to ?? path, d.parts, { fsync: o.fsync });
  return d;
}
