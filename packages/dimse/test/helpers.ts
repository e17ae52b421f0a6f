/**
 * Shared helpers for the dimse data-layer tests.
 *
 * Expected values come from DCMTK 3.6.7 (the "peer": dump2dcm builds
 * fixtures from dump text, dcmdump/dcm2json read files back) or from the
 * DICOM standard. The tiny raw encoder below is written independently of
 * src/dicom/dataset.ts, straight from PS3.5 §7.1, so hand-made fixtures do
 * not depend on the code under test.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { runSync } from "@dicom-pipes/test-support/bins";
import { hasDcmtk } from "@dicom-pipes/test-support/peers";
import {
  buildPart10Prefix,
  encodeDataset,
  type Dataset,
  type FrameInfo,
} from "../src/dicom/index.js";

/** Image Pixel attributes of a small 8-bit MONOCHROME2 image (1 × 4), changed by `o`. */
export const frameInfoOf = (o: Partial<FrameInfo>): FrameInfo => ({
  rows: 1,
  columns: 4,
  samplesPerPixel: 1,
  bitsAllocated: 8,
  bitsStored: 8,
  highBit: 7,
  pixelRepresentation: 0,
  planarConfiguration: 0,
  photometricInterpretation: "MONOCHROME2",
  frames: 1,
  ...o,
});

// ---------------------------------------------------------------- DCMTK

/** Skip the test (returning false) when DCMTK is missing. */
export function needDcmtk(t: TestContext): boolean {
  if (hasDcmtk()) return true;
  t.skip("DCMTK (dcmdump, dump2dcm, dcm2json...) not on PATH");
  return false;
}

let scratch: string | undefined;
let counter = 0;

/** A fresh file path in a per-process scratch directory (removed at exit). */
export function tmpFile(name: string): string {
  if (!scratch) {
    scratch = mkdtempSync(join(tmpdir(), "dimse-test-"));
    const dir = scratch;
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  return join(scratch, `${++counter}-${name}`);
}

/**
 * Build a DICOM file or bare dataset with dump2dcm from dump text. The text
 * is written as latin1, so characters U+0080..U+00FF become single bytes
 * (write other character sets as `\xNN` escapes in a latin1 string).
 * Default args: `-F +te` (bare dataset, explicit VR little endian).
 */
export function dump2dcm(dump: string, args: string[] = ["-F", "+te"]): Buffer {
  const src = tmpFile("in.dump");
  const out = tmpFile("out.dcm");
  writeFileSync(src, dump.endsWith("\n") ? dump : `${dump}\n`, "latin1");
  const r = runSync("dump2dcm", ["-q", ...args, src, out]);
  if (r.code !== 0) throw new Error(`dump2dcm ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  return readFileSync(out);
}

/** Write bytes to a scratch file and return its path. */
export function writeTmp(name: string, bytes: Buffer): string {
  const p = tmpFile(name);
  writeFileSync(p, bytes);
  return p;
}

/**
 * Run dcmdump on bytes. stdout is decoded as latin1 so raw value bytes
 * compare 1:1 with our latin1 dump lines.
 */
export function dcmdump(
  bytes: Buffer,
  args: string[] = [],
): { status: number | null; text: string; stderr: string } {
  const r = runSync("dcmdump", [...args, writeTmp("in.dcm", bytes)]);
  return { status: r.code, text: r.stdoutBytes.toString("latin1"), stderr: r.stderr };
}

/**
 * The data set lines of a dcmdump listing: everything after the last
 * `# Used TransferSyntax:` line, without the trailing empty line.
 */
export function dataLines(text: string): string[] {
  const lines = text.split("\n");
  let start = 0;
  lines.forEach((l, i) => {
    if (l.startsWith("# Used TransferSyntax:")) start = i + 1;
  });
  const out = lines.slice(start);
  while (out.length && out[out.length - 1] === "") out.pop();
  return out;
}

/**
 * dcmdump a file that must read cleanly: exit 0, nothing on stderr
 * (`-E`, stop on error, is dcmdump's default and is passed explicitly).
 */
export function dcmdumpClean(bytes: Buffer, args: string[] = []): string {
  const r = dcmdump(bytes, ["-E", ...args]);
  if (r.status !== 0 || r.stderr !== "")
    throw new Error(`dcmdump reported a problem (exit ${r.status}):\n${r.stderr}\n${r.text}`);
  return r.text;
}

/** dcm2json output (compact) for bytes. */
export function dcm2json(bytes: Buffer, args: string[] = []): string {
  const r = runSync("dcm2json", ["-fc", ...args, writeTmp("in.dcm", bytes)]);
  if (r.code !== 0) throw new Error(`dcm2json failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

export interface DcmtkDictEntry {
  name: string;
  vr: string;
  vm: string;
}

let dictionary: Map<number, DcmtkDictEntry> | null | undefined;

/** DCMTK's own data dictionary (tag → name, VR, VM) from the installed dicom.dic, if any. */
export function dcmtkDictionary(): Map<number, DcmtkDictEntry> | undefined {
  if (dictionary !== undefined) return dictionary ?? undefined;
  const dirs = existsSync("/usr/share")
    ? readdirSync("/usr/share").filter((d) => /^(lib)?dcmtk/.test(d))
    : [];
  const file = dirs.map((d) => `/usr/share/${d}/dicom.dic`).find((f) => existsSync(f));
  if (!file) {
    dictionary = null;
    return undefined;
  }
  dictionary = new Map();
  for (const line of readFileSync(file, "latin1").split("\n")) {
    const m = /^\(([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)\t([^\t]+)\t([^\t]+)\t([^\t]+)\t/.exec(line);
    if (m) dictionary.set(parseInt(m[1]! + m[2]!, 16) >>> 0, { vr: m[3]!, name: m[4]!, vm: m[5]! });
  }
  return dictionary;
}

/** A Part 10 file made by the code under test (buildPart10Prefix + encodeDataset). */
export function ourPart10(ds: Dataset, transferSyntax: string, sourceLittle = true): Buffer {
  return Buffer.concat([
    buildPart10Prefix({
      sopClassUID: "1.2.840.10008.5.1.4.1.1.7",
      sopInstanceUID: "1.2.3.4.5.6",
      transferSyntax,
    }),
    encodeDataset(ds, transferSyntax, sourceLittle),
  ]);
}

// ---------------------------------------------------------------- raw encoder (PS3.5 §7.1)

export interface Enc {
  explicit: boolean;
  little: boolean;
}
export const EXPLICIT_LE: Enc = { explicit: true, little: true };
export const IMPLICIT_LE: Enc = { explicit: false, little: true };
export const EXPLICIT_BE: Enc = { explicit: true, little: false };

/** VRs with the 12-byte explicit header (PS3.5 Table 7.1-1). */
const LONG_HEADER = new Set([
  "OB",
  "OD",
  "OF",
  "OL",
  "OV",
  "OW",
  "SQ",
  "UC",
  "UN",
  "UR",
  "UT",
  "SV",
  "UV",
]);
export const UNDEFINED = 0xffffffff;

function u16(v: number, little: boolean): Buffer {
  const b = Buffer.alloc(2);
  if (little) b.writeUInt16LE(v, 0);
  else b.writeUInt16BE(v, 0);
  return b;
}
function u32(v: number, little: boolean): Buffer {
  const b = Buffer.alloc(4);
  if (little) b.writeUInt32LE(v >>> 0, 0);
  else b.writeUInt32BE(v >>> 0, 0);
  return b;
}

/** Element header for a value of `len` bytes (or UNDEFINED). */
export function header(tag: number, vr: string, len: number, enc: Enc = EXPLICIT_LE): Buffer {
  const t = Buffer.concat([u16(tag >>> 16, enc.little), u16(tag & 0xffff, enc.little)]);
  if (!enc.explicit) return Buffer.concat([t, u32(len, enc.little)]);
  if (LONG_HEADER.has(vr))
    return Buffer.concat([t, Buffer.from(vr, "latin1"), Buffer.alloc(2), u32(len, enc.little)]);
  return Buffer.concat([t, Buffer.from(vr, "latin1"), u16(len, enc.little)]);
}

/** One element with its value bytes exactly as given (no padding added). */
export function raw(
  tag: number,
  vr: string,
  value: Buffer | string,
  enc: Enc = EXPLICIT_LE,
): Buffer {
  const v = typeof value === "string" ? Buffer.from(value, "latin1") : value;
  return Buffer.concat([header(tag, vr, v.length, enc), v]);
}

/** An item (FFFE,E000) with explicit length, or undefined length plus delimiter. */
export function rawItem(content: Buffer, undefinedLength = false, little = true): Buffer {
  const tag = Buffer.concat([u16(0xfffe, little), u16(0xe000, little)]);
  if (!undefinedLength) return Buffer.concat([tag, u32(content.length, little), content]);
  return Buffer.concat([
    tag,
    u32(UNDEFINED, little),
    content,
    u16(0xfffe, little),
    u16(0xe00d, little),
    u32(0, little),
  ]);
}

/** A sequence element holding the given encoded items. */
export function rawSeq(
  tag: number,
  items: Buffer[],
  undefinedLength = false,
  enc: Enc = EXPLICIT_LE,
  vr = "SQ",
): Buffer {
  const body = Buffer.concat(items);
  if (!undefinedLength) return Buffer.concat([header(tag, vr, body.length, enc), body]);
  const delim = Buffer.concat([
    u16(0xfffe, enc.little),
    u16(0xe0dd, enc.little),
    u32(0, enc.little),
  ]);
  return Buffer.concat([header(tag, vr, UNDEFINED, enc), body, delim]);
}

/** Hex of bytes, for readable assertion messages. */
export function hex(b: Buffer): string {
  return b.toString("hex").replace(/(..)/g, "$1 ").trim();
}

// ---------------------------------------------------------------- shared fixture

/**
 * A dump covering most VRs, a retired and a private attribute, Latin-1
 * text, multi-values and a nested sequence with an empty item. Fed to
 * dump2dcm with the different output transfer syntaxes.
 */
export const SAMPLE_DUMP = String.raw`
(0008,0005) CS [ISO_IR 100]
(0008,0008) CS [ORIGINAL\PRIMARY\AXIAL]
(0008,0016) UI =CTImageStorage
(0008,0018) UI [1.2.826.0.1.3680043.9.7777.1.1]
(0008,0020) DA [20240131]
(0008,0030) TM [101530.123]
(0008,0040) US 1
(0008,0061) CS [CT\MR]
(0008,0090) PN (no value available)
(0008,1000) AE [NET1]
(0009,0010) LO [ACME 1.0]
(0009,1001) LO [vendor]
(0010,0010) PN [Müller^Jürgen]
(0010,0020) LO [PAT001]
(0018,0050) DS [1.50]
(0018,1310) US 0\256\256\0
(0018,6020) SL -70000
(0018,9087) FD 0.5
(0020,0013) IS [42]
(0020,0032) DS [-125.5\-100\42.25]
(0020,4000) LT [Comment with  inner  spaces]
(0028,0009) AT (0018,1063)\(7fe0,0010)
(0028,0034) IS [1\1]
(0028,1201) OW 0001\0203\fffe
(0028,9503) SS -2\3\-32768\32767
(0040,0275) SQ (Sequence with explicit length #=2)
  (fffe,e000) na (Item with explicit length #=3)
    (0032,1060) LO [Chest CT]
    (0040,0008) SQ (Sequence with explicit length #=1)
      (fffe,e000) na (Item with explicit length #=3)
        (0008,0100) SH [P1]
        (0008,0102) SH [99LOCAL]
        (0008,0104) LO [Protocol Ü]
      (fffe,e00d) na (ItemDelimitationItem for re-encoding)
    (fffe,e0dd) na (SequenceDelimitationItem for re-encod.)
    (0040,1001) SH [RP1]
  (fffe,e00d) na (ItemDelimitationItem for re-encoding)
  (fffe,e000) na (Item with explicit length #=0)
  (fffe,e00d) na (ItemDelimitationItem for re-encoding)
(fffe,e0dd) na (SequenceDelimitationItem for re-encod.)
(0042,0011) OB 01\02\03\04\05\06
(0070,0022) FL 1.5\-2.25
(0072,0078) UL 4294967295\0
`.trimStart();
