/**
 * The decoders of @dicom-pipes/dimse/codec against DCMTK (dcmdjpeg,
 * dcmdjpls, dcmdrle, dcmconv) and GDCM (gdcmconv --raw) on the same
 * files: the corpus of test/support/corpus.ts, pydicom's test files
 * (python3-pydicom) and files compressed here with dcmcjpeg, dcmcjpls,
 * dcmcrle and gdcmconv. Pixels are read back by DCMTK's dcmdump
 * (test/support/pixels.ts) and must be equal for lossless syntaxes, within
 * a few levels for lossy ones; every output passes `dcmdump -E`.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { decompressFile } from "@dicom-pipes/dimse/codec";
import { encodePart10, parsePart10 } from "@dicom-pipes/dimse/dicom";
import { findOnPath } from "@dicom-pipes/test-support/peers";
import { buildCorpus, corpusSkip } from "@dicom-pipes/test-support/corpus";
import { metaOf } from "@dicom-pipes/test-support/files";
import { maxDifference, readPixels } from "@dicom-pipes/test-support/pixels";

const skip = corpusSkip();

const PYDICOM = "/usr/lib/python3/dist-packages/pydicom/data/test_files";

const JPEG = new Set([
  "1.2.840.10008.1.2.4.50",
  "1.2.840.10008.1.2.4.51",
  "1.2.840.10008.1.2.4.57",
  "1.2.840.10008.1.2.4.70",
]);
const JPEG_LS = new Set(["1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"]);
const J2K = new Set(["1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"]);
const RLE = "1.2.840.10008.1.2.5";
const DEFLATED = "1.2.840.10008.1.2.1.99";
const LOSSY = new Set([
  "1.2.840.10008.1.2.4.50",
  "1.2.840.10008.1.2.4.51",
  "1.2.840.10008.1.2.4.81",
  "1.2.840.10008.1.2.4.91",
]);

/** The peers that decode a syntax, each as `bin args` before `src dst`. */
function peersFor(ts: string): string[][] {
  const gdcm = ["gdcmconv", "--raw"];
  if (JPEG.has(ts)) return [["dcmdjpeg"], gdcm];
  if (JPEG_LS.has(ts)) return [["dcmdjpls"], gdcm];
  if (J2K.has(ts)) return [gdcm];
  if (ts === RLE) return [["dcmdrle"], gdcm];
  if (ts === DEFLATED) return [["dcmconv", "+te"]];
  return [];
}

interface Fixture {
  label: string;
  path: string;
  ts: string;
}

let work: string;
const fixtures: Fixture[] = [];

function run(bin: string, args: string[]): boolean {
  try {
    execFileSync(bin, args, { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}

before(async () => {
  if (skip) return;
  work = await mkdtemp(join(tmpdir(), "decompress-interop-"));
  const src = join(work, "src");
  await mkdir(src);
  const add = (label: string, path: string) =>
    fixtures.push({ label, path, ts: metaOf(path).transferSyntax });
  const corpus = await buildCorpus();
  for (const e of corpus) if (peersFor(e.transferSyntax).length) add(e.label, e.path);
  // pydicom's compressed test files.
  if (existsSync(PYDICOM)) {
    for (const name of [
      "MR_small_RLE.dcm",
      "SC_rgb_rle.dcm",
      "SC_rgb_rle_2frame.dcm",
      "SC_rgb_rle_16bit_2frame.dcm",
      "SC_rgb_rle_32bit_2frame.dcm",
      "rtdose_rle.dcm",
      "SC_rgb_jpeg_dcmtk.dcm",
      "SC_rgb_jpeg_gdcm.dcm",
      "SC_rgb_jpeg_lossy_gdcm.dcm",
      "SC_rgb_small_odd_jpeg.dcm",
      "SC_jpeg_no_color_transform.dcm",
      "SC_rgb_jpeg_app14_dcmd.dcm",
      "JPGExtended.dcm",
      "JPEG-lossy.dcm",
      "MR_small_jpeg_ls_lossless.dcm",
      "MR_small_jp2klossless.dcm",
      "GDCMJ2K_TextGBR.dcm",
      "JPEG2000.dcm",
      "693_J2KI.dcm",
      "SC_rgb_gdcm_KY.dcm",
      "image_dfl.dcm",
    ]) {
      const p = join(PYDICOM, name);
      if (existsSync(p)) add(`pydicom ${name}`, p);
    }
  }
  // Compressed here from uncompressed files: every JPEG lossless predictor, 12-bit
  // extended, JPEG-LS lossless and near-lossless, J2K lossless and lossy, RLE.
  const bases: string[] = [];
  for (const name of ["CT_small.dcm", "MR_small.dcm", "SC_rgb_small_odd.dcm"])
    if (existsSync(join(PYDICOM, name))) bases.push(join(PYDICOM, name));
  // 8-bit grayscale, one frame and four (JPEG-LS near-lossless needs unsigned data).
  for (const label of ["explicit-le-sc-latin1", "explicit-le-multiframe"])
    bases.push(corpus.find((e) => e.label === label)!.path);
  for (const base of bases) {
    const b = basename(base, ".dcm");
    const make = (label: string, bin: string, args: string[]) => {
      const dst = join(src, `${b}-${label}.dcm`);
      if (run(bin, [...args, base, dst])) add(`${b} ${bin} ${args.join(" ")}`, dst);
    };
    for (let sv = 1; sv <= 7; sv++)
      if (b === "CT_small" || sv === 1 || sv === 6)
        make(`p14-sv${sv}`, "dcmcjpeg", ["+el", "+sv", String(sv)]);
    make("sv1", "dcmcjpeg", ["+e1"]);
    make("ext", "dcmcjpeg", ["+ee"]);
    make("jls", "dcmcjpls", ["+el"]);
    make("jls-near", "dcmcjpls", ["+en"]);
    make("rle", "dcmcrle", []);
    make("j2k", "gdcmconv", ["--j2k"]);
    make("j2k-lossy", "gdcmconv", ["--j2k", "--lossy", "-q", "40"]);
    make("jpegls-gdcm", "gdcmconv", ["--jpegls"]);
  }
  // A large 16-bit multi-frame: RLE and JPEG lossless, one fragment per frame.
  const mf = join(src, "mf-base.dcm");
  if (existsSync(join(PYDICOM, "rtdose.dcm"))) {
    await copyFile(join(PYDICOM, "rtdose.dcm"), mf);
    const dst = join(src, "rtdose-p14.dcm");
    if (run("dcmcjpeg", ["+el", mf, dst])) add("rtdose dcmcjpeg +el (multi-frame)", dst);
  }
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe("decoding matches DCMTK and GDCM", { skip }, () => {
  test("fixtures cover every decodable syntax the peers write", () => {
    const seen = new Set(fixtures.map((f) => f.ts));
    for (const ts of [...JPEG, ...JPEG_LS, ...J2K, RLE, DEFLATED])
      assert.ok(seen.has(ts), `no fixture in ${ts}`);
    assert.ok(fixtures.length >= 40, `${fixtures.length} fixtures`);
  });

  test("pixels equal to the peers' for lossless syntaxes, within tolerance for lossy; dcmdump -E clean", async () => {
    const out = join(work, "out");
    const ref = join(work, "ref");
    await mkdir(out);
    await mkdir(ref);
    const failures: string[] = [];
    let compared = 0;
    let refused = 0;
    for (const [i, f] of fixtures.entries()) {
      const ours = join(out, `${i}.dcm`);
      let d: Awaited<ReturnType<typeof decompressFile>>;
      try {
        d = await decompressFile(f.path, { to: ours, fsync: false });
      } catch (e) {
        // Only a file no peer decodes either may fail, and then as a DecodeError.
        const peer = peersFor(f.ts).find(([bin, ...args]) =>
          run(bin!, [...args, f.path, join(ref, `${i}-${bin}.dcm`)]),
        );
        if (peer || (e as Error).name !== "DecodeError")
          failures.push(`${f.label}: ${(e as Error).message}`);
        else refused++;
        continue;
      }
      assert.ok(d, `${f.label}: nothing decoded`);
      assert.equal(metaOf(ours).transferSyntax, "1.2.840.10008.1.2.1", f.label);
      try {
        execFileSync("dcmdump", ["-E", "-q", ours], { stdio: "pipe" });
      } catch (e) {
        failures.push(`${f.label}: dcmdump -E: ${(e as { stderr?: Buffer }).stderr}`);
        continue;
      }
      const mine = readPixels(ours);
      const lossy = LOSSY.has(f.ts);
      if (lossy && f.ts !== "1.2.840.10008.1.2.4.91") assert.equal(mine.lossy, "01", f.label);
      let peers = 0;
      for (const [bin, ...args] of peersFor(f.ts)) {
        const theirs = join(ref, `${i}-${bin}.dcm`);
        if (!run(bin!, [...args, f.path, theirs])) continue;
        peers++;
        const p = readPixels(theirs);
        const what = `${f.label} vs ${bin}`;
        if (
          bin === "gdcmconv" &&
          LOSSY.has(f.ts) &&
          p.photometric.startsWith("YBR") &&
          mine.photometric === "RGB"
        ) {
          // GDCM keeps lossy JPEG's YCbCr; libjpeg (DCMTK, us) converts it to RGB.
          continue;
        }
        if (p.photometric !== mine.photometric) {
          failures.push(
            `${what}: Photometric Interpretation ${mine.photometric}, peer ${p.photometric}`,
          );
          continue;
        }
        if (p.bitsAllocated !== mine.bitsAllocated || p.data.length !== mine.data.length) {
          failures.push(
            `${what}: ${mine.data.length} bytes of ${mine.bitsAllocated} bits, peer ${p.data.length} of ${p.bitsAllocated}`,
          );
          continue;
        }
        const diff = maxDifference(mine.data, p.data, mine.bitsAllocated);
        const tolerance = lossy ? 2 : 0;
        if (diff > tolerance) failures.push(`${what}: pixels differ by up to ${diff}`);
        compared++;
      }
      if (peers === 0) failures.push(`${f.label}: no peer decoded it`);
    }
    assert.deepEqual(failures, []);
    assert.ok(compared >= fixtures.length - refused, `${compared} comparisons`);
    assert.ok(refused <= 1, `${refused} files no decoder reads`);
  });
});

/** A PGM (P5) of one 16-bit (big endian, as PGM stores it) or 8-bit frame. */
function pgm(pixels: Buffer, rows: number, cols: number, bits: number, allocated: number): Buffer {
  const head = Buffer.from(`P5\n${cols} ${rows}\n${(1 << bits) - 1}\n`, "latin1");
  if (allocated === 8) return Buffer.concat([head, pixels]);
  const be = Buffer.alloc(rows * cols * 2);
  for (let i = 0; i < rows * cols; i++) be.writeUInt16BE(pixels.readUInt16LE(i * 2), i * 2);
  return Buffer.concat([head, be]);
}

/** The samples of a PGM written by ojph_expand, as little endian. */
function pgmPixels(b: Buffer): Buffer {
  const m = /^P5\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(b.toString("latin1", 0, 64));
  if (!m) throw new Error("not a PGM");
  const body = b.subarray(m[0].length);
  if (Number(m[3]) < 256) return body;
  const le = Buffer.alloc(body.length);
  for (let i = 0; i + 1 < body.length; i += 2) le.writeUInt16LE(body.readUInt16BE(i), i);
  return le;
}

const skipOjph =
  skip ||
  (!findOnPath("ojph_compress") ? "needs ojph_compress (apt-get install openjph-tools)" : false);

describe("HTJ2K matches OpenJPH's own decoder", { skip: skipOjph }, () => {
  test("lossless (.201) equals the source pixels and ojph_expand's; lossy (.203) equals ojph_expand's and is marked lossy", async () => {
    const dir = join(work, "htj2k");
    await mkdir(dir);
    const bases = (await buildCorpus()).filter((e) =>
      ["explicit-le-many-private", "explicit-le-sc-latin1", "explicit-le-large"].includes(e.label),
    );
    assert.equal(bases.length, 3);
    for (const e of bases) {
      const { dataset } = parsePart10(await readFile(e.path));
      const us = (tag: number) => dataset.get(tag)!.value!.readUInt16LE(0);
      const [rows, cols, allocated, stored] = [0x00280010, 0x00280011, 0x00280100, 0x00280101].map(
        us,
      ) as [number, number, number, number];
      const source = dataset.get(0x7fe00010)!.value!;
      const img = join(dir, `${e.label}.pgm`);
      await writeFile(img, pgm(source, rows, cols, stored, allocated));
      for (const [ts, reversible] of [
        ["1.2.840.10008.1.2.4.201", "true"],
        ["1.2.840.10008.1.2.4.203", "false"],
      ] as const) {
        const j2c = join(dir, `${e.label}-${ts}.j2c`);
        execFileSync("ojph_compress", ["-i", img, "-o", j2c, "-reversible", reversible], {
          stdio: "pipe",
        });
        const expanded = join(dir, `${e.label}-${ts}.pgm`);
        execFileSync("ojph_expand", ["-i", j2c, "-o", expanded], { stdio: "pipe" });
        const ds = dataset.clone();
        ds.set({
          tag: 0x7fe00010,
          vr: "OB",
          fragments: [Buffer.alloc(0), await readFile(j2c)],
          undefinedLength: true,
        });
        const src = join(dir, `${e.label}-${ts}.dcm`);
        await writeFile(src, encodePart10(ds, { transferSyntax: ts }));
        const out = join(dir, `${e.label}-${ts}-out.dcm`);
        await decompressFile(src, { to: out, fsync: false });
        execFileSync("dcmdump", ["-E", "-q", out], { stdio: "pipe" });
        const mine = readPixels(out);
        const theirs = pgmPixels(await readFile(expanded));
        // Lossless: equal; lossy: within one level (two OpenJPH versions round the 9-7 wavelet).
        const diff = maxDifference(mine.data.subarray(0, theirs.length), theirs, allocated);
        assert.ok(
          diff <= (reversible === "true" ? 0 : 1),
          `${e.label} ${ts}: ${diff} from ojph_expand`,
        );
        if (reversible === "true") {
          assert.ok(mine.data.subarray(0, source.length).equals(source), `${e.label}: lossless`);
          assert.equal(mine.lossy, "", `${e.label} ${ts}: not marked lossy`);
        } else assert.equal(mine.lossy, "01", `${e.label} ${ts}: marked lossy`);
      }
    }
  });
});
