/**
 * dcmdir against real peers: DCMTK dcmdump and dcmmkdir, dicom3tools
 * dciodvfy, pydicom's FileSet (Debian packages); and end to end, a disc
 * folder or an index query piped into storescu-ts, received by DCMTK
 * storescp.
 */
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateArchive } from "@dicom-pipes/gen-archive";
import { ndjson, runBin, runShell, shellWord } from "@dicom-pipes/test-support/bins";
import { datasetBytes, filesUnder, metaOf } from "@dicom-pipes/test-support/files";
import { findOnPath, hasDcmtk, runDcmtk, startStorescp } from "@dicom-pipes/test-support/peers";

const PYTHON = "/usr/bin/python3";
const hasPydicom = (() => {
  try {
    execFileSync(PYTHON, ["-c", "import pydicom.fileset"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
const skip = !hasDcmtk()
  ? "DCMTK not installed"
  : !findOnPath("dciodvfy")
    ? "dicom3tools not installed"
    : !hasPydicom
      ? "python3-pydicom not installed"
      : false;

let work: string;
let archive: string;
/** SOP Instance UID → source file. */
const sources = new Map<string, string>();

before(async () => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), "dcmdir-interop-"));
  archive = join(work, "archive");
  await generateArchive({ out: archive, patients: 8, seed: "dcmdir-interop" });
  for (const rel of await filesUnder(archive))
    sources.set(metaOf(join(archive, rel)).sopInstanceUid, join(archive, rel));
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/**
 * The directory records as dcmdump prints them: one canonical line per
 * record (type and every key but the offsets), sorted. Independent of
 * dcmdir's own DICOMDIR reader.
 */
async function dumpedRecords(dicomdir: string): Promise<string[]> {
  const r = await runDcmtk("dcmdump", ["-q", "+L", dicomdir]);
  assert.equal(r.code, 0, r.stderr);
  const records: string[] = [];
  let current: string[] | undefined;
  for (const line of r.stdout.split("\n")) {
    if (/^ {2}\(fffe,e000\)/.test(line)) {
      if (current) records.push(current.join(" | "));
      current = [];
    } else if (current && /^ {4}\(/.test(line)) {
      const m = /^ {4}\((\w{4},\w{4})\) (\w\w) (.*?)\s+#/.exec(line);
      if (!m) continue;
      if (["0004,1400", "0004,1410", "0004,1420"].includes(m[1]!)) continue;
      current.push(`${m[1]} ${m[2]} ${m[3]}`);
    }
  }
  if (current) records.push(current.join(" | "));
  return records.sort();
}

describe("dcmdir create against DCMTK, dicom3tools and pydicom", { skip }, () => {
  let cd: string;
  before(async () => {
    if (skip) return;
    cd = join(work, "cd");
    const r = await runBin("dcmdir", ["create", "-o", cd, archive]);
    assert.equal(r.code, 0, r.stderr);
  });

  test("dcmdump reads the DICOMDIR without a warning or error", async () => {
    const r = await runDcmtk("dcmdump", ["-q", join(cd, "DICOMDIR")]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.match(r.stdout, /MediaStorageDirectoryStorage/);
  });

  test("dciodvfy reports no error", async () => {
    const r = await runDcmtk("dciodvfy", [join(cd, "DICOMDIR")]);
    const out = r.stdout + r.stderr;
    assert.match(out, /BasicDirectory/);
    assert.deepEqual(
      out.split("\n").filter((l) => /^Error/.test(l)),
      [],
    );
  });

  test("pydicom's FileSet finds every instance, at a path holding the source's bytes", () => {
    const script =
      "import sys, json\nfrom pydicom.fileset import FileSet\nfs = FileSet(sys.argv[1])\nprint(json.dumps([[i.SOPInstanceUID, i.path] for i in fs]))";
    const found = JSON.parse(
      execFileSync(PYTHON, ["-c", script, join(cd, "DICOMDIR")], { encoding: "utf8" }),
    ) as Array<[string, string]>;
    assert.equal(found.length, sources.size);
    for (const [uid, path] of found) {
      assert.ok(sources.has(uid), uid);
      assert.ok(readFileSync(path).equals(readFileSync(sources.get(uid)!)), path);
    }
  });

  test("the records equal those dcmmkdir writes for the same tree", async () => {
    const copy = join(work, "cd-dcmtk");
    cpSync(cd, copy, { recursive: true });
    rmSync(join(copy, "DICOMDIR"));
    const entries = (await filesUnder(copy)).sort();
    const r = await runDcmtk("dcmmkdir", ["--recurse", ...entries], { cwd: copy });
    assert.equal(r.code, 0, r.stderr);
    const theirs = await dumpedRecords(join(copy, "DICOMDIR"));
    const ours = await dumpedRecords(join(cd, "DICOMDIR"));
    assert.equal(ours.length, theirs.length);
    assert.deepEqual(ours, theirs);
  });

  test("dcmdir list reads a DICOMDIR written by dcmmkdir", async () => {
    const disc = join(work, "dcmtk-disc");
    mkdirSync(join(disc, "DATA"), { recursive: true });
    let n = 0;
    for (const src of sources.values())
      cpSync(src, join(disc, "DATA", `IM${String(++n).padStart(6, "0")}`));
    const made = await runDcmtk("dcmmkdir", ["--recurse", "DATA"], { cwd: disc });
    assert.equal(made.code, 0, made.stderr);
    const r = await runBin("dcmdir", ["list", join(disc, "DICOMDIR")]);
    assert.equal(r.code, 0, r.stderr);
    const recs = ndjson(r.stdout);
    assert.equal(recs.length, sources.size);
    for (const x of recs) {
      assert.ok(existsSync(String(x.path)), String(x.path));
      assert.equal(metaOf(String(x.path)).sopInstanceUid, x.SOPInstanceUID);
      assert.ok(x.PatientID && x.StudyInstanceUID && x.SeriesInstanceUID);
    }
    const series = ndjson(
      (await runBin("dcmdir", ["list", "--level", "series", join(disc, "DICOMDIR")])).stdout,
    );
    assert.equal(
      series.reduce((s, x) => s + Number(x.count), 0),
      sources.size,
    );
  });
});

describe("dcmdir end to end: a disc or a query piped into storescu-ts", { skip }, () => {
  test("create → list | storescu-ts: every instance arrives with the dataset unchanged", async () => {
    const cd = join(work, "e2e-cd");
    assert.equal((await runBin("dcmdir", ["create", "-o", cd, archive])).code, 0);
    const got = await receive(
      `${shellWord("dcmdir")} list ${JSON.stringify(join(cd, "DICOMDIR"))}`,
    );
    assert.deepEqual(new Set(got.keys()), new Set(sources.keys()));
    for (const [uid, file] of got)
      assert.ok(
        datasetBytes(file).equals(datasetBytes(sources.get(uid)!)),
        `${uid} changed in transit`,
      );
  });

  test("index + query --files | storescu-ts sends exactly the matching series", async () => {
    const db = join(work, "e2e.db");
    assert.equal((await runBin("dcmdir", ["index", "--db", db, archive])).code, 0);
    // The expected set from pydicom, not from dcmdir: instances whose SeriesDescription matches, in the date window.
    const script =
      "import sys, os, json, re, pydicom\nout=[]\nfor d, _, fs in os.walk(sys.argv[1]):\n  for f in fs:\n    ds = pydicom.dcmread(os.path.join(d, f), stop_before_pixels=True)\n" +
      "    if re.search(sys.argv[2], str(ds.get('SeriesDescription', '') or '')) and '20240101' <= ds.StudyDate <= '20240630': out.append(ds.SOPInstanceUID)\nprint(json.dumps(out))";
    const pattern = "t1|T1|Topogram";
    const want = new Set(
      JSON.parse(
        execFileSync(PYTHON, ["-c", script, archive, pattern], { encoding: "utf8" }),
      ) as string[],
    );
    assert.ok(
      want.size > 0 && want.size < sources.size,
      `pattern matches ${want.size} of ${sources.size}`,
    );
    const got = await receive(
      `${shellWord("dcmdir")} query --db ${JSON.stringify(db)} --sdate 20240101 --edate 20240630 --targets SeriesDescription --pattern '${pattern}' --files`,
    );
    assert.deepEqual(new Set(got.keys()), want);
  });

  /** Run `producer | storescu-ts` into a fresh DCMTK storescp (+B: datasets stored as received); SOP Instance UID → received file. */
  async function receive(producer: string): Promise<Map<string, string>> {
    const dir = mkdtempSync(join(work, "recv-"));
    const scp = await startStorescp({ args: ["+B"], dir });
    try {
      const r = await runShell(
        `${producer} | ${shellWord("storescu-ts")} -aec STORESCP 127.0.0.1 ${scp.port}`,
        { timeoutMs: 120_000 },
      );
      assert.equal(r.code, 0, r.stderr);
    } finally {
      await scp.stop();
    }
    const got = new Map<string, string>();
    for (const rel of await filesUnder(dir))
      got.set(metaOf(join(dir, rel)).sopInstanceUid, join(dir, rel));
    return got;
  }
});
