/** Part 10 files: the preamble, `DICM` and the File Meta Information group. */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import {
  Dataset,
  DicomParseError,
  encodeDataset,
  parseDataset,
  parseElementsAt,
  textElement,
  type Element,
} from "./dataset.js";
import { Tags } from "./dict.js";
import { syntaxInfo, TransferSyntax } from "./syntax.js";
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from "./uid.js";

export class NotDicomError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NotDicomError";
  }
}

export interface Part10Header {
  /** File meta group (empty for a bare dataset file). */
  meta: Dataset;
  hasMeta: boolean;
  transferSyntax: string;
  /** Byte offset of the dataset in the file. */
  datasetOffset: number;
  sopClassUID: string;
  sopInstanceUID: string;
  /** Top-level dataset elements before (and excluding) pixel data, as far as read. */
  head: Dataset;
}

const META_STOP = 0x00030000;

/**
 * Parse the header of a Part 10 file (or a bare dataset) from its first
 * bytes. Throws `RangeError` when `buf` is too short to decide.
 */
export function parsePart10Header(buf: Buffer, stopAtTag = 0x00080019): Part10Header {
  let meta = new Dataset();
  let offset = 0;
  let hasMeta = false;
  let ts: string = TransferSyntax.ImplicitVRLittleEndian;
  if (buf.length >= 132 && buf.toString("latin1", 128, 132) === "DICM") {
    hasMeta = true;
    const parsed = parseMeta(buf, 132);
    meta = parsed.dataset;
    offset = parsed.end;
    const t = meta.string(Tags.TransferSyntaxUID);
    if (!t) throw new NotDicomError("file meta information has no Transfer Syntax UID");
    ts = t;
  } else if (buf.length >= 4 && buf.toString("latin1", 0, 4) === "DICM") {
    // No preamble: some writers omit it.
    hasMeta = true;
    const parsed = parseMeta(buf, 4);
    meta = parsed.dataset;
    offset = parsed.end;
    ts = meta.string(Tags.TransferSyntaxUID) ?? TransferSyntax.ExplicitVRLittleEndian;
  } else {
    ts = guessBareSyntax(buf);
  }
  const info = syntaxInfo(ts);
  let head: Dataset;
  if (info.deflated) {
    head = new Dataset();
  } else {
    try {
      head = parseElementsAt(
        buf,
        offset,
        buf.length,
        info.explicit,
        info.little,
        stopAtTag,
      ).dataset;
    } catch (e) {
      if (e instanceof DicomParseError && /runs past|truncated/.test(e.message))
        throw new RangeError("need more bytes");
      throw e;
    }
  }
  const fromMeta = (t: number) => meta.string(t);
  const sopClassUID = head.string(Tags.SOPClassUID) ?? fromMeta(Tags.MediaStorageSOPClassUID) ?? "";
  const sopInstanceUID =
    head.string(Tags.SOPInstanceUID) ?? fromMeta(Tags.MediaStorageSOPInstanceUID) ?? "";
  if (!hasMeta && (!sopClassUID || !sopInstanceUID))
    throw new NotDicomError("not a DICOM file (no DICM prefix and no SOP Class/Instance UID)");
  return {
    meta,
    hasMeta,
    transferSyntax: ts,
    datasetOffset: offset,
    sopClassUID,
    sopInstanceUID,
    head,
  };
}

function parseMeta(buf: Buffer, start: number): { dataset: Dataset; end: number } {
  // Use the group length when present; otherwise read while the group is 0002.
  let end = buf.length;
  if (
    buf.length >= start + 12 &&
    buf.readUInt16LE(start) === 0x0002 &&
    buf.readUInt16LE(start + 2) === 0x0000
  ) {
    const vr = buf.toString("latin1", start + 4, start + 6);
    if (vr === "UL") {
      const glen = buf.readUInt32LE(start + 8);
      end = start + 12 + glen;
      if (end > buf.length) throw new RangeError("need more bytes");
    }
  }
  try {
    return parseElementsAt(buf, start, end, true, true, META_STOP);
  } catch (e) {
    if (e instanceof DicomParseError) {
      if (/runs past|truncated/.test(e.message) && end === buf.length)
        throw new RangeError("need more bytes");
      throw new NotDicomError(`bad file meta information: ${e.message}`);
    }
    throw e;
  }
}

function guessBareSyntax(buf: Buffer): string {
  if (buf.length < 8) throw new NotDicomError("not a DICOM file (too short)");
  const group = buf.readUInt16LE(0);
  const groupBE = buf.readUInt16BE(0);
  const vr = buf.toString("latin1", 4, 6);
  const explicit = /^[A-Z]{2}$/.test(vr);
  if (group === 0x0008 || (group > 0 && group < 0x0100 && group % 2 === 0)) {
    return explicit ? TransferSyntax.ExplicitVRLittleEndian : TransferSyntax.ImplicitVRLittleEndian;
  }
  if (groupBE === 0x0008 && explicit) return TransferSyntax.ExplicitVRBigEndian;
  throw new NotDicomError("not a DICOM file (no DICM prefix)");
}

/** Read the header of a file on disk, reading only as many bytes as needed. */
export async function readPart10Header(
  path: string,
  stopAtTag = 0x00080019,
): Promise<Part10Header & { size: number }> {
  // A few small reads: synchronous calls are cheaper than thread-pool round trips.
  return readPart10HeaderSync(path, stopAtTag);
}

/** `readPart10Header`, synchronously (a few system calls; no thread-pool round trips). */
export function readPart10HeaderSync(
  path: string,
  stopAtTag = 0x00080019,
): Part10Header & { size: number } {
  const fd = openSync(path, "r");
  try {
    const { size } = fstatSync(fd);
    let want = Math.min(size, 16384);
    for (;;) {
      const buf = Buffer.allocUnsafe(want);
      const bytesRead = readSync(fd, buf, 0, want, 0);
      try {
        return { ...parsePart10Header(buf.subarray(0, bytesRead), stopAtTag), size };
      } catch (e) {
        if (e instanceof RangeError && want < size) {
          want = Math.min(size, want * 8);
          continue;
        }
        if (e instanceof RangeError) throw new NotDicomError("not a DICOM file (truncated)");
        if (e instanceof DicomParseError)
          throw new NotDicomError(`not a DICOM file (${e.message})`);
        throw e;
      }
    }
  } finally {
    closeSync(fd);
  }
}

export interface MetaOptions {
  sopClassUID: string;
  sopInstanceUID: string;
  transferSyntax: string;
  sourceAet?: string;
  implementationClassUID?: string;
  implementationVersionName?: string;
}

/** Preamble, `DICM` and an encoded File Meta Information group. */
export function buildPart10Prefix(o: MetaOptions): Buffer {
  const elements: Element[] = [
    { tag: 0x00020001, vr: "OB", value: META_VERSION },
    textElement(Tags.MediaStorageSOPClassUID, "UI", o.sopClassUID),
    textElement(Tags.MediaStorageSOPInstanceUID, "UI", o.sopInstanceUID),
    textElement(Tags.TransferSyntaxUID, "UI", o.transferSyntax),
    textElement(
      Tags.ImplementationClassUID,
      "UI",
      o.implementationClassUID ?? IMPLEMENTATION_CLASS_UID,
    ),
    textElement(
      Tags.ImplementationVersionName,
      "SH",
      o.implementationVersionName ?? IMPLEMENTATION_VERSION_NAME,
    ),
  ];
  if (o.sourceAet) elements.push(textElement(Tags.SourceApplicationEntityTitle, "AE", o.sourceAet));
  // Explicit VR Little Endian, written straight into one buffer (one per received
  // object); a value too long for a 16-bit length goes through the dataset encoder.
  let bodyLength = 0;
  for (const el of elements) {
    const n = (el.value as Buffer).length;
    if (n > 0xffff) return metaThroughDataset(elements);
    bodyLength += (el.vr === "OB" ? 12 : 8) + n;
  }
  const b = Buffer.alloc(132 + 12 + bodyLength);
  b.write("DICM", 128, "latin1");
  let p = metaHeader(b, 132, 0x00020000, "UL", 4);
  p = b.writeUInt32LE(bodyLength, p);
  for (const el of elements) {
    const value = el.value as Buffer;
    p = metaHeader(b, p, el.tag, el.vr, value.length);
    p += value.copy(b, p);
  }
  return b;
}

const META_VERSION = Buffer.from([0x00, 0x01]);

/** An Explicit VR Little Endian element header at `p`; returns the offset after it. */
function metaHeader(b: Buffer, p: number, tag: number, vr: string, len: number): number {
  b.writeUInt16LE(tag >>> 16, p);
  b.writeUInt16LE(tag & 0xffff, p + 2);
  b.write(vr, p + 4, "latin1");
  if (vr !== "OB") return b.writeUInt16LE(len, p + 6);
  b.writeUInt16LE(0, p + 6);
  return b.writeUInt32LE(len, p + 8);
}

/** The prefix through the general dataset encoder. */
function metaThroughDataset(elements: Element[]): Buffer {
  const meta = new Dataset();
  for (const el of elements) meta.set(el);
  const body = encodeDataset(meta, TransferSyntax.ExplicitVRLittleEndian);
  const head = Buffer.alloc(144);
  head.write("DICM", 128, "latin1");
  metaHeader(head, 132, 0x00020000, "UL", 4);
  head.writeUInt32LE(body.length, 140);
  return Buffer.concat([head, body]);
}

/** A dataset as a Part 10 file; `sourceLittle: false` when its binary values are big endian (parsed from a big endian syntax). */
export function encodePart10(
  ds: Dataset,
  o: Omit<MetaOptions, "sopClassUID" | "sopInstanceUID"> & {
    sopClassUID?: string;
    sopInstanceUID?: string;
    sourceLittle?: boolean;
  },
): Buffer {
  const sopClassUID = o.sopClassUID ?? ds.string(Tags.SOPClassUID) ?? "";
  const sopInstanceUID = o.sopInstanceUID ?? ds.string(Tags.SOPInstanceUID) ?? "";
  const prefix = buildPart10Prefix({ ...o, sopClassUID, sopInstanceUID });
  return Buffer.concat([prefix, encodeDataset(ds, o.transferSyntax, o.sourceLittle)]);
}

/** Parse a whole Part 10 file held in memory. */
export function parsePart10(buf: Buffer): { header: Part10Header; dataset: Dataset } {
  const header = parsePart10Header(buf);
  const dataset = parseDataset(buf.subarray(header.datasetOffset), header.transferSyntax);
  return { header, dataset };
}

export type { Element };
