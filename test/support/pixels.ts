/**
 * Pixel data of an uncompressed file as DCMTK reads it (`dcmdump +W`
 * writes the value to a file), for comparing our decoder's output with a
 * peer decoder's: an oracle independent of @dicom-pipes/dimse.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Pixels {
  transferSyntax: string;
  photometric: string;
  planar: number;
  samples: number;
  bitsAllocated: number;
  bitsStored: number;
  lossy: string;
  /** Pixel Data in Planar Configuration 0. */
  data: Buffer;
}

function value(dump: string, tag: string): string {
  const line = dump.split("\n").find((l) => l.startsWith(`(${tag})`));
  if (!line) return "";
  const m = /^\([0-9a-f,]+\) \w\w (?:\[([^\]]*)\]|=?(\S+))/.exec(line);
  return (m?.[1] ?? m?.[2] ?? "").trim();
}

/** Read a file's image attributes and pixel data with DCMTK's dcmdump. */
export function readPixels(path: string): Pixels {
  const dir = mkdtempSync(join(tmpdir(), "pixels-"));
  try {
    const tags = ["0002,0010", "0028,0002", "0028,0004", "0028,0006", "0028,0010", "0028,0011"];
    tags.push("0028,0100", "0028,0101", "0028,2110", "7fe0,0010");
    // One run: +P prints only these, and +W writes the one binary value among them.
    const dump = execFileSync(
      "dcmdump",
      ["-q", ...tags.flatMap((t) => ["+P", t]), "+W", dir, path],
      {
        encoding: "latin1",
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    const file = readdirSync(dir).find((f) => f.endsWith(".raw"));
    if (!file) throw new Error(`${path}: dcmdump wrote no pixel data`);
    const rows = Number(value(dump, "0028,0010"));
    const columns = Number(value(dump, "0028,0011"));
    const p: Pixels = {
      transferSyntax: value(dump, "0002,0010"),
      photometric: value(dump, "0028,0004"),
      planar: Number(value(dump, "0028,0006") || 0),
      samples: Number(value(dump, "0028,0002") || 1),
      bitsAllocated: Number(value(dump, "0028,0100")),
      bitsStored: Number(value(dump, "0028,0101")),
      lossy: value(dump, "0028,2110"),
      data: readFileSync(join(dir, file)),
    };
    if (p.planar === 1 && p.samples > 1)
      p.data = interleave(p.data, rows * columns, p.samples, p.bitsAllocated / 8);
    return p;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Planar Configuration 1 (per frame: all of sample 0, then 1, ...) to 0. */
function interleave(data: Buffer, pixels: number, samples: number, bytes: number): Buffer {
  const frame = pixels * samples * bytes;
  const out = Buffer.alloc(data.length);
  for (let f = 0; f + frame <= data.length; f += frame)
    for (let s = 0; s < samples; s++)
      for (let p = 0; p < pixels; p++)
        data.copy(
          out,
          f + (p * samples + s) * bytes,
          f + (s * pixels + p) * bytes,
          f + (s * pixels + p + 1) * bytes,
        );
  return out;
}

/** The largest difference between two sample arrays (same layout, unsigned). */
export function maxDifference(a: Buffer, b: Buffer, bitsAllocated: number): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let max = 0;
  if (bitsAllocated === 16) {
    for (let i = 0; i + 1 < a.length; i += 2) {
      const d = Math.abs(a.readUInt16LE(i) - b.readUInt16LE(i));
      if (d > max) max = d;
    }
  } else {
    for (let i = 0; i < a.length; i++) {
      const d = Math.abs(a[i]! - b[i]!);
      if (d > max) max = d;
    }
  }
  return max;
}
