// The run as a whole, on a set of CT files written by pydicom: results only for outputs in
// place (--fsync batches), no temporary file left by a run stopped with SIGTERM (exit 143),
// and the same command run again completing the set. The real bin is spawned.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve as resolvePath } from "node:path";
import { createInterface } from "node:readline";
import { binPath } from "@dicom-pipes/test-support/bins";
import { files, PY } from "./helpers.js";

const N = 240;
let root = "";

const MAKE_SET = `
import sys
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian
out, n = sys.argv[1], int(sys.argv[2])
CT = "1.2.840.10008.5.1.4.1.1.2"
for i in range(n):
    p = i % 3
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT
    meta.MediaStorageSOPInstanceUID = f"1.2.826.0.1.3680043.10.998.{p}.1.{i + 1}"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    ds.SOPClassUID = CT
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientName = f"RUN^PATIENT{p}"
    ds.PatientID = f"RUN{p:06d}"
    ds.StudyInstanceUID = f"1.2.826.0.1.3680043.10.998.{p}"
    ds.SeriesInstanceUID = f"1.2.826.0.1.3680043.10.998.{p}.1"
    ds.Modality = "CT"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = 256
    ds.Columns = 256
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.PixelData = bytes(256 * 256 * 2)
    ds.save_as(f"{out}/{i:05d}.dcm", write_like_original=False)
`;

before(() => {
  root = mkdtempSync(join(tmpdir(), "dcmanon-run-"));
  mkdirSync(join(root, "in"));
  const r = spawnSync(PY, ["-c", MAKE_SET, join(root, "in"), String(N)], { encoding: "utf8" });
  assert.equal(r.status, 0, `pydicom set: ${r.stderr}`);
  writeFileSync(join(root, "key"), "run-0123456789abcdef0123456789abcdef-secret");
});

interface Seen {
  code: number | null;
  results: Array<Record<string, unknown>>;
  /** Outputs reported `ok` whose file was not there when the line was read. */
  missing: string[];
}

/** Spawn dcmanon; each result line is checked as it arrives; `after(n)` runs once n lines are in. */
function run(args: string[], after?: { lines: number; act: (pid: number) => void }): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [binPath("dcmanon"), ...args], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const seen: Seen = { code: null, results: [], missing: [] };
    createInterface({ input: child.stdout }).on("line", (line) => {
      const rec = JSON.parse(line) as Record<string, unknown>;
      seen.results.push(rec);
      if (rec.status === "ok" && !existsSync(resolvePath(root, rec.out as string)))
        seen.missing.push(rec.out as string);
      if (after && seen.results.length === after.lines) after.act(child.pid!);
    });
    child.stderr.resume();
    child.on("error", reject);
    child.on("close", (code) => resolve({ ...seen, code }));
  });
}

const temporary = (dir: string) => files(dir).filter((f) => /\.tmp$/.test(f));

test("--fsync: every result names an output already in place; outputs are whole DICOM files; no temporary file left", async () => {
  const out = join(root, "fsynced");
  const r = await run(["--secret-file", "key", "--fsync", "-j", "2", "-o", out, "in"]);
  assert.equal(r.code, 0);
  assert.equal(r.results.length, N);
  assert.deepEqual(
    r.results.map((x) => x.status),
    Array(N).fill("ok"),
  );
  assert.deepEqual(r.missing, []);
  assert.deepEqual(temporary(out), []);
  assert.equal(files(out).length, N);
  // Results in input order, whatever thread finished first.
  assert.deepEqual(
    r.results.map((x) => x.in),
    files(join(root, "in")).map((f) => f.slice(root.length + 1)),
  );
  // DCMTK reads the outputs as whole files.
  const check = spawnSync("dcmftest", files(out).slice(0, 20), { encoding: "utf8" });
  assert.equal(check.status, 0, check.stdout + check.stderr);
});

test("SIGTERM: the run stops with 143, every reported output is in place, no temporary file is left; the same command again completes the set", async () => {
  const out = join(root, "stopped");
  const args = ["--secret-file", "key", "-j", "2", "-o", out, "in"];
  const r = await run(args, { lines: 10, act: (pid) => process.kill(pid, "SIGTERM") });
  assert.ok(r.results.length >= 10);
  assert.deepEqual(r.missing, []);
  assert.deepEqual(temporary(out), []);
  if (r.results.length < N) assert.equal(r.code, 143);
  const again = await run(args);
  assert.equal(again.code, 0);
  assert.equal(again.results.filter((x) => x.status === "ok").length, N);
  assert.deepEqual(again.missing, []);
  assert.deepEqual(temporary(out), []);
  assert.equal(files(out).length, N);
});
