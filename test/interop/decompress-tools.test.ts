/**
 * Decompression in the tools, spawned as real executables against DCMTK:
 * storescp-ts --decompress / +te receiving compressed files from DCMTK
 * storescu; storescu-ts sending a JPEG lossless file to a DCMTK storescp
 * that accepts only uncompressed syntaxes (its default); dcmanon
 * --decompress. Pixels are compared with DCMTK's and GDCM's decoders
 * (test/support/pixels.ts reads them back with dcmdump).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Dataset, encodePart10, numberElement, textElement } from "@dicom-pipes/dimse/dicom";
import {
  freePort,
  hasOrthanc,
  runDcmtk,
  startOrthanc,
  startStorescp,
} from "@dicom-pipes/test-support/peers";
import { ndjson, runBin } from "@dicom-pipes/test-support/bins";
import {
  buildCorpus,
  corpusSkip,
  startStorescpTs,
  storescuProfile,
  TS,
  type CorpusEntry,
} from "@dicom-pipes/test-support/corpus";
import { filesUnder, metaOf } from "@dicom-pipes/test-support/files";
import { readPixels } from "@dicom-pipes/test-support/pixels";

const skip = corpusSkip();

const HOST = "127.0.0.1";
const LE = "1.2.840.10008.1.2.1";
const MPEG2 = "1.2.840.10008.1.2.4.100";
let work: string;
let corpus: CorpusEntry[];
let compressed: CorpusEntry[];

/** The reference decoding of a file (DCMTK; GDCM for J2K). */
function reference(e: { path: string; transferSyntax: string }, out: string): string {
  const ts = e.transferSyntax;
  const tool =
    ts === TS.Rle
      ? ["dcmdrle"]
      : ts === TS.JpegLsLossless
        ? ["dcmdjpls"]
        : ts === TS.J2kLossless
          ? ["gdcmconv", "--raw"]
          : ts === TS.Deflated
            ? ["dcmconv", "+te"]
            : ["dcmdjpeg"];
  execFileSync(tool[0]!, [...tool.slice(1), e.path, out], { stdio: "pipe" });
  return out;
}

/** A Secondary Capture in MPEG2 (no decoder): encapsulated, one fragment. */
async function mpegFile(path: string): Promise<void> {
  const ds = new Dataset();
  ds.set(textElement(0x00080016, "UI", "1.2.840.10008.5.1.4.1.1.7"));
  ds.set(textElement(0x00080018, "UI", "2.25.4242424242"));
  ds.set(textElement(0x00100020, "LO", "MPEG"));
  for (const [t, v] of [
    [0x00280002, 1],
    [0x00280010, 2],
    [0x00280011, 2],
    [0x00280100, 8],
    [0x00280101, 8],
    [0x00280102, 7],
    [0x00280103, 0],
  ] as const)
    ds.set(numberElement(t, "US", v));
  ds.set(textElement(0x00280004, "CS", "MONOCHROME2"));
  ds.set({
    tag: 0x7fe00010,
    vr: "OB",
    fragments: [Buffer.alloc(0), Buffer.from([0, 0, 1, 0xb3])],
    undefinedLength: true,
  });
  await writeFile(path, encodePart10(ds, { transferSyntax: MPEG2 }));
}

before(async () => {
  if (skip) return;
  work = await mkdtemp(join(tmpdir(), "decompress-tools-"));
  corpus = await buildCorpus();
  compressed = corpus.filter((e) =>
    [
      TS.JpegBaseline,
      TS.JpegLosslessSV1,
      TS.JpegLsLossless,
      TS.J2kLossless,
      TS.Rle,
      TS.Deflated,
    ].includes(e.transferSyntax as never),
  );
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe("storescp-ts --decompress", { skip }, () => {
  test("stores what DCMTK storescu sends compressed as explicit VR little endian, pixels equal to DCMTK's and GDCM's decoders", async () => {
    const od = join(work, "scp-decompress");
    await mkdir(od);
    const profile = await storescuProfile(compressed, join(work, "p1.cfg"));
    const scp = await startStorescpTs(["--decompress", "-v", "-fe", ".dcm"], { od });
    const r = await runDcmtk(
      "storescu",
      [...profile, HOST, String(scp.port), ...compressed.map((e) => e.path)],
      {
        timeoutMs: 120_000,
      },
    );
    const exit = await scp.stop();
    assert.equal(r.code, 0, `${r.stderr}\n--- storescp-ts:\n${exit.stderr}`);
    assert.equal(exit.code, 0, exit.stderr);
    const records = ndjson(exit.stdout);
    assert.equal(records.length, compressed.length);
    for (const e of compressed) {
      const rec = records.find((x) => x.SOPInstanceUID === e.sopInstanceUid);
      assert.ok(rec, `${e.label}: no record`);
      assert.equal(rec.transferSyntax, LE, `${e.label}: record`);
      const path = String(rec.path);
      assert.equal(metaOf(path).transferSyntax, LE, `${e.label}: file meta`);
      execFileSync("dcmdump", ["-E", "-q", path], { stdio: "pipe" });
      const ours = readPixels(path);
      const ref = readPixels(reference(e, join(work, `ref-${e.label}.dcm`)));
      assert.equal(ours.photometric, ref.photometric, e.label);
      assert.ok(
        ours.data.equals(ref.data),
        `${e.label}: pixels differ from the reference decoder's`,
      );
      if (e.transferSyntax === TS.JpegBaseline) assert.equal(ours.lossy, "01", e.label);
    }
    assert.match(exit.stderr, /decoded .*JPEG Lossless/, "decoding is logged with -v");
  });

  test("+te writes every object in explicit VR little endian (implicit and big endian too)", async () => {
    const od = join(work, "scp-te");
    await mkdir(od);
    const picks = corpus.filter((e) =>
      ["implicit-le-mr", "big-endian-ct", "rle-ct"].includes(e.label),
    );
    const profile = await storescuProfile(picks, join(work, "p2.cfg"));
    const scp = await startStorescpTs(["+te"], { od });
    const r = await runDcmtk(
      "storescu",
      [...profile, HOST, String(scp.port), ...picks.map((e) => e.path)],
      {
        timeoutMs: 120_000,
      },
    );
    const exit = await scp.stop();
    assert.equal(r.code, 0, r.stderr);
    const files = await filesUnder(od);
    assert.equal(files.length, 3);
    for (const f of files) {
      assert.equal(metaOf(join(od, f)).transferSyntax, LE, f);
      execFileSync("dcmdump", ["-E", "-q", join(od, f)], { stdio: "pipe" });
    }
    // Same content as DCMTK's own conversion of the source file.
    const big = picks.find((e) => e.label === "big-endian-ct")!;
    const rec = ndjson(exit.stdout).find((x) => x.SOPInstanceUID === big.sopInstanceUid)!;
    const ref = join(work, "big-te.dcm");
    execFileSync("dcmconv", ["+te", big.path, ref]);
    assert.ok(readPixels(String(rec.path)).data.equals(readPixels(ref).data));
  });

  test("a syntax it cannot decode fails that C-STORE and writes nothing; a decodable file is stored", async () => {
    const od = join(work, "scp-refuse");
    await mkdir(od);
    const mpeg = join(work, "mpeg.dcm");
    await mpegFile(mpeg);
    const rle = compressed.find((e) => e.transferSyntax === TS.Rle)!;
    const entries = [{ sopClassUid: "1.2.840.10008.5.1.4.1.1.7", transferSyntax: MPEG2 }, rle];
    const profile = await storescuProfile(entries, join(work, "p3.cfg"));
    const scp = await startStorescpTs(["--decompress"], { od });
    await runDcmtk("storescu", [...profile, HOST, String(scp.port), rle.path, mpeg], {
      timeoutMs: 120_000,
    });
    const exit = await scp.stop();
    assert.match(
      exit.stderr,
      /E: storescp-ts: cannot decode 2\.25\.4242424242: .*1\.2\.840\.10008\.1\.2\.4\.100.*no decoder/,
    );
    const files = await filesUnder(od);
    assert.equal(files.length, 1, files.join(", "));
    assert.equal(metaOf(join(od, files[0]!)).sopInstanceUid, rle.sopInstanceUid);
  });
});

describe("storescu-ts --decompress", { skip }, () => {
  test("a JPEG lossless file to a DCMTK storescp that accepts only uncompressed syntaxes: decoded and sent (auto), refused (never)", async () => {
    const jpeg = compressed.find((e) => e.transferSyntax === TS.JpegLosslessSV1)!;
    const peer = await startStorescp({ args: ["-fe", ".dcm"] });
    try {
      const r = await runBin("storescu-ts", [HOST, String(peer.port), jpeg.path], {
        timeoutMs: 60_000,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stderr,
        /W: storescu-ts: .*: the peer accepts no JPEG Lossless.*decoded and sent in Little Endian Explicit/,
      );
      assert.equal(ndjson(r.stdout)[0]!.status, "Success");
      const got = await readdir(peer.dir);
      assert.equal(got.length, 1);
      const stored = join(peer.dir, got[0]!);
      assert.notEqual(metaOf(stored).transferSyntax, jpeg.transferSyntax);
      const ref = reference(jpeg, join(work, "ref-send.dcm"));
      assert.ok(
        readPixels(stored).data.equals(readPixels(ref).data),
        "pixels as dcmdjpeg decodes them",
      );

      const never = await runBin(
        "storescu-ts",
        ["--decompress", "never", HOST, String(peer.port), jpeg.path],
        {
          timeoutMs: 60_000,
        },
      );
      assert.notEqual(never.code, 0);
      assert.match(never.stderr, /No Acceptable Presentation Contexts/);
      assert.equal((await readdir(peer.dir)).length, 1, "nothing more stored");
    } finally {
      await peer.stop();
    }
  });

  test("--decompress with a bad value is a usage error naming the values", async () => {
    const r = await runBin("storescu-ts", ["--decompress", "sometimes", HOST, "104", "x.dcm"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--decompress \(expected auto, never or always\)/);
  });
});

describe("movescu-ts --decompress", {
  skip: skip || (!hasOrthanc() ? "Orthanc is required (apt-get install orthanc)" : false),
}, () => {
  test("objects Orthanc sends compressed (C-MOVE to +P) are stored decoded, pixels as DCMTK decodes them", async () => {
    const picks = compressed.filter((e) =>
      [TS.JpegLosslessSV1, TS.Rle, TS.JpegLsLossless].includes(e.transferSyntax as never),
    );
    const port = await freePort();
    const orthanc = await startOrthanc({
      files: picks.map((e) => e.path),
      modalities: { ours: { aet: "MOVESCU", port } },
    });
    try {
      const od = join(work, "move-decompress");
      await mkdir(od);
      const studies = new Set(
        picks.map(
          (e) =>
            /\[([^\]]+)\]/.exec(
              execFileSync("dcmdump", ["-q", "+P", "0020,000d", e.path], { encoding: "latin1" }),
            )![1],
        ),
      );
      const input = `${[...studies].map((s) => JSON.stringify({ StudyInstanceUID: s })).join("\n")}\n`;
      const r = await runBin(
        "movescu-ts",
        [
          "-aec",
          orthanc.aet,
          "+P",
          String(port),
          "-od",
          od,
          "--decompress",
          "-v",
          HOST,
          String(orthanc.port),
        ],
        { input, timeoutMs: 120_000 },
      );
      assert.equal(r.code, 0, r.stderr);
      // Orthanc sent them compressed: movescu-ts decoded each (not the archive).
      assert.equal(
        r.stderr.match(/I: movescu-ts: decoded \S+: .+ -> Little Endian Explicit/g)?.length,
        picks.length,
        r.stderr,
      );
      const files = (await filesUnder(od, { hidden: false })).filter((f) => !f.startsWith("."));
      assert.equal(files.length, picks.length, files.join(", "));
      for (const f of files) {
        const path = join(od, f);
        const m = metaOf(path);
        assert.equal(m.transferSyntax, LE, f);
        const e = picks.find((x) => x.sopInstanceUid === m.sopInstanceUid)!;
        const ref = readPixels(reference(e, join(work, `ref-move-${e.label}.dcm`)));
        assert.ok(readPixels(path).data.equals(ref.data), `${e.label}: pixels`);
      }
    } finally {
      await orthanc.stop();
    }
  });
});

describe("dcmanon --decompress", { skip }, () => {
  test("writes de-identified files decoded; a file it cannot decode is an error and is not written", async () => {
    const out = join(work, "anon-out");
    const src = join(work, "anon-in");
    await mkdir(src);
    const jls = compressed.find((e) => e.transferSyntax === TS.JpegLsLossless)!;
    execFileSync("cp", [jls.path, join(src, "a.dcm")]);
    await mpegFile(join(src, "b.dcm"));
    const r = await runBin("dcmanon", ["--decompress", "-o", out, src], { timeoutMs: 60_000 });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout + r.stderr, /not decoded: .*no decoder/);
    const files = await filesUnder(out);
    const dcm = files.filter((f) => !f.endsWith(".ndjson") && !f.endsWith(".json"));
    assert.equal(dcm.length, 1, files.join(", "));
    const path = join(out, dcm[0]!);
    assert.equal(metaOf(path).transferSyntax, LE);
    execFileSync("dcmdump", ["-E", "-q", path], { stdio: "pipe" });
    const ref = reference(jls, join(work, "ref-anon.dcm"));
    assert.ok(readPixels(path).data.equals(readPixels(ref).data));
  });
});
