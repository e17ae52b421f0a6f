/**
 * Files on disk, for checking what the tools wrote: directory walks and a
 * minimal Part 10 reader (file meta group → UIDs and dataset bytes).
 *
 * The reader is written from PS3.10 §7.1 on purpose rather than taken from
 * @dicom-pipes/dimse, which the tools use to write these files: it is the
 * tests' independent oracle. Node built-ins only.
 */
import { readFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";

// ------------------------------------------------------------------ Part 10

export interface MetaInfo {
  transferSyntax: string;
  sopClassUid: string;
  sopInstanceUid: string;
  /** (0002,0016) Source Application Entity Title ("" when absent). */
  sourceAet: string;
  /** Offset of the dataset (first byte after the meta group). */
  datasetOffset: number;
}

/** VRs whose explicit-VR length field is 4 bytes (after 2 reserved bytes). */
const LONG_VRS = new Set([
  "OB",
  "OD",
  "OF",
  "OL",
  "OV",
  "OW",
  "SQ",
  "SV",
  "UC",
  "UN",
  "UR",
  "UT",
  "UV",
]);

function uidValue(b: Buffer): string {
  return b.toString("latin1").replace(/[\0 ]+$/, "");
}

/**
 * Read a Part 10 file's meta group (PS3.10 §7.1: preamble, "DICM", group
 * 0002 in explicit VR little endian), element by element.
 */
export function readMeta(buf: Buffer): MetaInfo {
  if (buf.length < 132 || buf.toString("latin1", 128, 132) !== "DICM")
    throw new Error("not a DICOM Part 10 file");
  let off = 132;
  const m: Partial<MetaInfo> = {};
  while (off + 8 <= buf.length && buf.readUInt16LE(off) === 0x0002) {
    const el = buf.readUInt16LE(off + 2);
    const vr = buf.toString("latin1", off + 4, off + 6);
    let len: number;
    let hdr: number;
    if (LONG_VRS.has(vr)) {
      len = buf.readUInt32LE(off + 8);
      hdr = 12;
    } else {
      len = buf.readUInt16LE(off + 6);
      hdr = 8;
    }
    const v = buf.subarray(off + hdr, off + hdr + len);
    if (el === 0x0002) m.sopClassUid = uidValue(v);
    if (el === 0x0003) m.sopInstanceUid = uidValue(v);
    if (el === 0x0010) m.transferSyntax = uidValue(v);
    if (el === 0x0016) m.sourceAet = v.toString("latin1").trim();
    off += hdr + len;
  }
  return {
    transferSyntax: m.transferSyntax ?? "",
    sopClassUid: m.sopClassUid ?? "",
    sopInstanceUid: m.sopInstanceUid ?? "",
    sourceAet: m.sourceAet ?? "",
    datasetOffset: off,
  };
}

/** The bytes after the file meta group: what goes on the wire in a C-STORE. */
export function datasetOf(buf: Buffer): Buffer {
  return buf.subarray(readMeta(buf).datasetOffset);
}

/** datasetOf() of a file. */
export function datasetBytes(path: string): Buffer {
  return datasetOf(readFileSync(path));
}

/** readMeta() of a file. */
export function metaOf(path: string): MetaInfo {
  return readMeta(readFileSync(path));
}

// ------------------------------------------------------------------ directories

/**
 * Every non-directory entry under `dir`, as paths relative to it
 * (`/`-separated), sorted; names starting with "." are left out unless
 * `hidden`. A subdirectory removed while the walk runs (a tool's temporary
 * directory) is skipped.
 */
export async function filesUnder(dir: string, o: { hidden?: boolean } = {}): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(join(dir, rel), { withFileTypes: true });
    } catch (e) {
      if (rel && (e as NodeJS.ErrnoException).code === "ENOENT") return;
      throw e;
    }
    for (const e of entries) {
      if (!o.hidden && e.name.startsWith(".")) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(r);
      else out.push(r);
    }
  };
  await walk("");
  return out.sort();
}
