// dcmdir on gen-archive trees in temp folders: create/add/list, index/query, in process and as the real executable.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  statSync,
  utimesSync,
  writeFileSync,
  rmSync,
  cpSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import Database from "better-sqlite3";
import { generateArchive } from "@dicom-pipes/gen-archive";
import { binPath, ndjson, runBin, runMain } from "@dicom-pipes/test-support/bins";
import { filesUnder, metaOf } from "@dicom-pipes/test-support/files";
import { main } from "../src/main.js";

const run = (argv: string[]) => runMain(main, argv);

let archive: string;
let sopUids: Map<string, string>; // SOP Instance UID -> source path
let base: string;

before(async () => {
  base = mkdtempSync(join(tmpdir(), "dcmdir-test-"));
  archive = join(base, "archive");
  await generateArchive({ out: archive, patients: 5, seed: "dcmdir" });
  writeFileSync(join(archive, "README.txt"), "not DICOM\n");
  sopUids = new Map();
  for (const rel of await filesUnder(archive)) {
    if (rel.endsWith(".dcm"))
      sopUids.set(metaOf(join(archive, rel)).sopInstanceUid, join(archive, rel));
  }
});

after(() => {
  if (base) rmSync(base, { recursive: true, force: true });
});

function fresh(name: string): string {
  const d = join(base, name);
  rmSync(d, { recursive: true, force: true });
  return d;
}

describe("create and list", () => {
  test("copies every DICOM file byte for byte under PS3.10 file IDs, skips and reports the non-DICOM file, and lists every instance", async () => {
    const before = new Map([...sopUids.values()].map((p) => [p, statSync(p).mtimeMs]));
    const out = fresh("cd1");
    const r = await run(["create", "-o", out, archive]);
    assert.equal(r.code, 0, r.stderr);
    const recs = ndjson(r.stdout);
    const skipped = recs.filter((x) => x.action === "skipped");
    assert.deepEqual(
      skipped.map((x) => x.from),
      [join(archive, "README.txt")],
    );
    assert.match(r.stderr, /README\.txt: skipped, not a DICOM file/);
    const copied = recs.filter((x) => x.action === "copied");
    assert.equal(copied.length, sopUids.size);
    for (const c of copied) {
      const rel = relative(out, String(c.path)).split("/");
      assert.equal(rel.length, 4);
      for (const comp of rel) assert.match(comp, /^[A-Z0-9_]{1,8}$/);
      assert.ok(
        readFileSync(String(c.path)).equals(readFileSync(String(c.from))),
        `${String(c.path)} differs from ${String(c.from)}`,
      );
    }
    for (const [p, m] of before) assert.equal(statSync(p).mtimeMs, m, `input ${p} changed`);
    const l = await run(["list", join(out, "DICOMDIR")]);
    assert.equal(l.code, 0, l.stderr);
    const listed = ndjson(l.stdout);
    assert.deepEqual(new Set(listed.map((x) => x.SOPInstanceUID)), new Set(sopUids.keys()));
    for (const x of listed) {
      assert.ok(
        readFileSync(String(x.path)).equals(readFileSync(sopUids.get(String(x.SOPInstanceUID))!)),
      );
      assert.equal(x.DirectoryRecordType, "IMAGE");
      for (const k of [
        "PatientID",
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "SOPClassUID",
        "Modality",
      ])
        assert.ok(x[k], `${k} missing in ${JSON.stringify(x)}`);
    }
    const studies = ndjson((await run(["list", "--level", "study", join(out, "DICOMDIR")])).stdout);
    assert.equal(
      studies.reduce((n, s) => n + Number(s.count), 0),
      sopUids.size,
    );
    assert.ok(studies.every((s) => s.DirectoryRecordType === "STUDY" && s.StudyInstanceUID));
  });

  test("never overwrites: an existing DICOMDIR is refused, and a file in the way with other content is a per-file failure", async () => {
    const out = fresh("cd2");
    assert.equal((await run(["create", "-o", out, archive])).code, 0);
    const dicomdir = readFileSync(join(out, "DICOMDIR"));
    const again = await run(["create", "-o", out, archive]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /DICOMDIR exists; use 'dcmdir add'/);
    assert.ok(readFileSync(join(out, "DICOMDIR")).equals(dicomdir));
    // Rewriting with --force: identical copies are recognised, a changed one is refused.
    const listed = ndjson((await run(["list", join(out, "DICOMDIR")])).stdout);
    const victim = String(listed[0]!.path);
    writeFileSync(victim, "someone else's file");
    const forced = await run(["create", "--force", "-o", out, archive]);
    assert.equal(forced.code, 3, forced.stderr);
    const recs = ndjson(forced.stdout);
    assert.equal(recs.filter((x) => x.action === "present").length, sopUids.size - 1);
    const failed = recs.filter((x) => x.action === "failed");
    assert.equal(failed.length, 1);
    assert.match(String(failed[0]!.error), /exists with other content; not overwritten/);
    assert.equal(readFileSync(victim, "utf8"), "someone else's file");
    assert.equal(
      ndjson((await run(["list", join(out, "DICOMDIR")])).stdout).length,
      sopUids.size - 1,
    );
  });

  test("create OUT on a folder already laid out writes only the DICOMDIR; files with invalid IDs are failures", async () => {
    const out = fresh("cd3");
    await run(["create", "-o", out, archive]);
    rmSync(join(out, "DICOMDIR"));
    const before = (await filesUnder(out)).sort();
    const r = await run(["create", out]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(ndjson(r.stdout).every((x) => x.action === "indexed"));
    assert.deepEqual((await filesUnder(out)).sort(), [...before, "DICOMDIR"].sort());
    cpSync(sopUids.values().next().value!, join(out, "lower.dcm"));
    const bad = await run(["create", "--force", out]);
    assert.equal(bad.code, 3);
    assert.match(bad.stderr, /lower\.dcm: inside the output folder but not a valid file ID/);
  });

  test("add appends new instances to an existing file-set and recognises those already in it", async () => {
    const out = fresh("cd4");
    const all = [...sopUids.values()];
    const first = all.slice(0, 10);
    const part = fresh("part");
    mkdirSync(part);
    first.forEach((p, i) => cpSync(p, join(part, `f${i}.dcm`)));
    assert.equal((await run(["create", "-o", out, part])).code, 0);
    assert.equal(ndjson((await run(["list", join(out, "DICOMDIR")])).stdout).length, 10);
    const r = await run(["add", join(out, "DICOMDIR"), archive]);
    assert.equal(r.code, 0, r.stderr);
    const recs = ndjson(r.stdout);
    assert.equal(recs.filter((x) => x.action === "present").length, 10);
    assert.equal(recs.filter((x) => x.action === "copied").length, sopUids.size - 10);
    const listed = ndjson((await run(["list", join(out, "DICOMDIR")])).stdout);
    assert.deepEqual(new Set(listed.map((x) => x.SOPInstanceUID)), new Set(sopUids.keys()));
    assert.equal(listed.length, sopUids.size);
  });

  test("list refuses a Referenced File ID that leaves the file-set folder, and still lists the rest", async () => {
    const out = fresh("cd5");
    await run(["create", "-o", out, archive]);
    const buf = readFileSync(join(out, "DICOMDIR"));
    // Rewrite the first file ID's first component ("Pxxxxxxx", 8 bytes) as "..\..\ET" — same length, so offsets hold.
    const first = ndjson((await run(["list", join(out, "DICOMDIR")])).stdout)[0]!;
    const comp = relative(out, String(first.path)).split("/")[0]!;
    const at = buf.indexOf(Buffer.from(`${comp}\\`));
    assert.ok(at > 0);
    Buffer.from("..\\..\\ET").copy(buf, at);
    const evil = join(fresh("cd5evil"));
    mkdirSync(evil);
    writeFileSync(join(evil, "DICOMDIR"), buf);
    const r = await run(["list", join(evil, "DICOMDIR")]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /invalid Referenced File ID component "\.\."/);
    const recs = ndjson(r.stdout);
    assert.ok(recs.every((x) => x.path === undefined || !String(x.path).includes("..")));
  });

  test("usage errors exit 2 with one line and a hint", async () => {
    const r = await run(["create"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^E: dcmdir: give the output folder/);
    assert.equal((await run(["frobnicate"])).code, 2);
    const l = await run(["list", join(base, "nope", "DICOMDIR")]);
    assert.equal(l.code, 2);
    const inside = await run(["create", "-o", join(archive, "CD"), archive]);
    assert.equal(inside.code, 2);
    assert.match(inside.stderr, /inside the input/);
  });
});

function sqlite(db: string, sql: string): unknown[] {
  const d = new Database(db, { readonly: true });
  try {
    return d.prepare(sql).raw().all();
  } finally {
    d.close();
  }
}

describe("index and query", () => {
  test("indexes headers, skips and counts the non-DICOM file, re-runs incrementally, drops deleted files and re-reads changed ones", async () => {
    const dir = fresh("idx1");
    cpSync(archive, join(dir, "tree"), { recursive: true });
    const db = join(dir, "a.db");
    const r = await run(["index", "--db", db, join(dir, "tree")]);
    assert.equal(r.code, 0, r.stderr);
    const s = ndjson(r.stdout)[0]!;
    assert.equal(s.added, sopUids.size);
    assert.equal(s.skipped, 1);
    assert.deepEqual(
      sqlite(db, "SELECT count(*), count(DISTINCT SOPInstanceUID) FROM instances")[0],
      [sopUids.size, sopUids.size],
    );
    const reasons = sqlite(db, "SELECT path, reason FROM skipped") as Array<[string, string]>;
    assert.equal(reasons.length, 1);
    assert.equal(reasons[0]![0], join(dir, "tree", "README.txt"));
    assert.match(reasons[0]![1], /^not a DICOM file/);
    // The studies view: one row per study, each column once.
    const d = new Database(db, { readonly: true });
    const studyColumns = d
      .prepare("SELECT * FROM studies")
      .columns()
      .map((c) => c.name);
    d.close();
    for (const c of studyColumns)
      assert.match(
        c,
        /^[A-Za-z]+$/,
        `studies view column ${c} (SQLite renames a duplicate "X" to "X:1")`,
      );
    assert.deepEqual(
      sqlite(db, "SELECT count(*) FROM studies")[0],
      sqlite(db, "SELECT count(DISTINCT StudyInstanceUID) FROM series")[0],
    );
    const again = ndjson((await run(["index", "--db", db, join(dir, "tree")])).stdout)[0]!;
    assert.equal(again.added, 0);
    assert.equal(again.unchanged, sopUids.size + 1);
    // One file removed, one touched: the next run drops the first and re-reads the second.
    const files = (await filesUnder(join(dir, "tree"))).filter((f) => f.endsWith(".dcm"));
    rmSync(join(dir, "tree", files[0]!));
    utimesSync(join(dir, "tree", files[1]!), new Date(), new Date(Date.now() + 5000));
    const third = ndjson((await run(["index", "--db", db, join(dir, "tree")])).stdout)[0]!;
    assert.equal(third.added, 1);
    assert.equal(third.removed, 1);
    assert.deepEqual(sqlite(db, "SELECT count(*) FROM instances")[0], [sopUids.size - 1]);
  });

  test("another folder needs --append; with it both are searchable", async () => {
    const dir = fresh("idx2");
    mkdirSync(join(dir, "one"), { recursive: true });
    mkdirSync(join(dir, "two"), { recursive: true });
    const all = [...sopUids.values()];
    cpSync(all[0]!, join(dir, "one", "a.dcm"));
    cpSync(all[1]!, join(dir, "two", "b.dcm"));
    const db = join(dir, "a.db");
    assert.equal((await run(["index", "--db", db, join(dir, "one")])).code, 0);
    const refused = await run(["index", "--db", db, join(dir, "two")]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /give --append/);
    assert.equal((await run(["index", "--db", db, "--append", join(dir, "two")])).code, 0);
    assert.equal(ndjson((await run(["query", "--db", db, "--files"])).stdout).length, 2);
  });

  test("a run killed with SIGKILL resumes without duplicates", async () => {
    const dir = fresh("idx3");
    const tree = join(dir, "tree");
    await generateArchive({ out: tree, patients: 40, seed: "kill", instancesPerSeries: [5, 10] });
    const total = (await filesUnder(tree)).length;
    const db = join(dir, "a.db");
    const child = spawn(
      process.execPath,
      [binPath("dcmdir"), "index", "--db", db, "-j", "2", "--batch", "20", tree],
      { stdio: "ignore" },
    );
    // Kill once some batches are committed.
    for (let i = 0; i < 400; i++) {
      await new Promise((r) => setTimeout(r, 10));
      const n = (() => {
        try {
          return (sqlite(db, "SELECT count(*) FROM instances")[0] as number[])[0]!;
        } catch {
          return 0; // not created yet
        }
      })();
      if (n > 0) break;
    }
    child.kill("SIGKILL");
    await new Promise((r) => child.once("close", r));
    const partial = (sqlite(db, "SELECT count(*) FROM instances")[0] as number[])[0]!;
    assert.ok(partial > 0 && partial < total, `killed after ${partial} of ${total} files`);
    const r = await run(["index", "--db", db, tree]);
    assert.equal(r.code, 0, r.stderr);
    const s = ndjson(r.stdout)[0]!;
    assert.deepEqual(
      sqlite(
        db,
        "SELECT count(*), count(DISTINCT path), count(DISTINCT SOPInstanceUID) FROM instances",
      )[0],
      [total, total, total],
    );
    assert.ok(
      Number(s.unchanged) >= partial,
      `resumed run re-read files the killed run had committed (${partial} committed, ${String(s.unchanged)} unchanged)`,
    );
  });

  test("query selects by StudyDate and a pattern over targets; missing values never match; output as CSV or to a file", async () => {
    const dir = fresh("idx4");
    const db = join(dir, "a.db");
    mkdirSync(dir);
    await run(["index", "--db", db, archive]);
    const series = sqlite(
      db,
      "SELECT SeriesInstanceUID, StudyDate, SeriesDescription, InstitutionName FROM series",
    ) as Array<[string, string, string | null, string | null]>;
    const all = ndjson((await run(["query", "--db", db])).stdout);
    assert.equal(all.length, series.length);
    const date = series[0]![1];
    const onDay = ndjson((await run(["query", "--db", db, "--date", date])).stdout);
    assert.deepEqual(
      new Set(onDay.map((x) => x.SeriesInstanceUID)),
      new Set(series.filter((s) => s[1] === date).map((s) => s[0])),
    );
    const range = ndjson(
      (await run(["query", "--db", db, "--sdate", "20240301", "--edate", "20240630"])).stdout,
    );
    assert.deepEqual(
      new Set(range.map((x) => x.SeriesInstanceUID)),
      new Set(series.filter((s) => s[1] >= "20240301" && s[1] <= "20240630").map((s) => s[0])),
    );
    // InstitutionName is missing in some series: those must neither match nor fail the query.
    const re = /Hospital|Riverside/;
    const m = await run([
      "query",
      "--db",
      db,
      "--targets",
      "InstitutionName,SeriesDescription",
      "--pattern",
      re.source,
    ]);
    assert.equal(m.code, 0, m.stderr);
    const want = series
      .filter((s) => (s[3] !== null && re.test(s[3])) || (s[2] !== null && re.test(s[2])))
      .map((s) => s[0]);
    assert.ok(want.length > 0 && want.length < series.length);
    assert.ok(series.some((s) => s[3] === null));
    assert.deepEqual(new Set(ndjson(m.stdout).map((x) => x.SeriesInstanceUID)), new Set(want));
    const files = ndjson(
      (
        await run([
          "query",
          "--db",
          db,
          "--targets",
          "InstitutionName,SeriesDescription",
          "--pattern",
          re.source,
          "--files",
        ])
      ).stdout,
    );
    const counted = ndjson(m.stdout).reduce(
      (n, x) => n + Number(x.NumberOfSeriesRelatedInstances),
      0,
    );
    assert.equal(files.length, counted);
    for (const f of files) assert.equal(metaOf(String(f.path)).sopInstanceUid, f.SOPInstanceUID);
    const csv = await run([
      "query",
      "--db",
      db,
      "--level",
      "study",
      "--format",
      "csv",
      "-o",
      join(dir, "studies.csv"),
    ]);
    assert.equal(csv.code, 0, csv.stderr);
    assert.equal(csv.stdout, "");
    const lines = readFileSync(join(dir, "studies.csv"), "utf8").trim().split("\n");
    assert.match(lines[0]!, /StudyInstanceUID/);
    assert.equal(
      lines.length - 1,
      (sqlite(db, "SELECT count(DISTINCT StudyInstanceUID) FROM series")[0] as number[])[0],
    );
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes(".tmp")),
      [],
    );
    const none = await run(["query", "--db", db, "--date", "19000101", "--format", "tsv"]);
    assert.equal(none.code, 0);
    assert.match(none.stdout, /^StudyDate\t/);
    assert.equal(none.stdout.trim().split("\n").length, 1);
  });

  test("bad selections are usage errors naming the option", async () => {
    const dir = fresh("idx5");
    mkdirSync(dir);
    const db = join(dir, "a.db");
    await run(["index", "--db", db, sopUids.values().next().value!]);
    for (const [args, msg] of [
      [["--date", "2024-01-31"], /--date: expected a date YYYYMMDD/],
      [["--sdate", "20240230"], /--sdate: expected a date YYYYMMDD/],
      [["--pattern", "("], /--pattern: /],
      [
        ["--targets", "PatientName;DROP", "--pattern", "x"],
        /--targets: PatientName;DROP is not an indexed attribute/,
      ],
      [["--targets", "PatientName"], /--targets needs --pattern/],
    ] as Array<[string[], RegExp]>) {
      const r = await run(["query", "--db", db, ...args]);
      assert.equal(r.code, 2, args.join(" "));
      assert.match(r.stderr, msg);
    }
    const missing = await run(["query", "--db", join(dir, "none.db")]);
    assert.equal(missing.code, 2);
    assert.equal(existsSync(join(dir, "none.db")), false);
  });
});

describe("the executable", () => {
  test("help, version, unknown option, and a create | list pipeline through the real bin", async () => {
    const h = await runBin("dcmdir", ["--help"]);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /dcmdir create -o OUT INPUT/);
    for (const cmd of ["create", "add", "list", "index", "query"]) {
      const c = await runBin("dcmdir", [cmd, "--help"]);
      assert.equal(c.code, 0, cmd);
      assert.match(c.stdout, new RegExp(`dcmdir ${cmd}`));
    }
    assert.match(
      (await runBin("dcmdir", ["--version"])).stdout,
      /^dcmdir \d+\.\d+\.\d+ \(dicom-pipes; DICOM dictionary: dcmjs [\d.]+\)\n$/,
    );
    const bad = await runBin("dcmdir", ["list", "--bogus", "x"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Try 'dcmdir/);
    const out = fresh("bin");
    const c = await runBin("dcmdir", ["create", "-o", out, archive]);
    assert.equal(c.code, 0, c.stderr);
    const l = await runBin("dcmdir", ["list", join(out, "DICOMDIR")]);
    assert.equal(ndjson(l.stdout).length, sopUids.size);
  });
});
