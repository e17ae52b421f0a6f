/**
 * gen-archive: the archive is checked with DCMTK's dcmdump (when installed)
 * and with the project's own parser; determinism, counts, layouts, syntaxes
 * and sizes are checked on real files in a temporary directory.
 */
import { after, before, describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, relative, sep } from "node:path";
import {
  elementNumbers,
  parsePart10,
  Tags,
  TransferSyntax,
  type Dataset,
} from "@dicom-pipes/dimse/dicom";
import {
  generateArchive,
  generateInstances,
  PRIVATE_CREATOR,
  PrivateTags,
  type ArchiveSummary,
} from "../src/generate.js";
import { STORAGE_SOP_CLASS } from "../src/content.js";
import { main } from "../src/main.js";
import { runMain } from "@dicom-pipes/test-support/bins";

const DCMDUMP = "dcmdump";
const hasDcmdump = !spawnSync(DCMDUMP, ["--version"]).error;

function needDcmdump(t: TestContext): boolean {
  if (hasDcmdump) return true;
  t.skip("dcmdump (DCMTK) not on PATH");
  return false;
}

function dcmdump(args: string[]): { status: number | null; stdout: Buffer; stderr: string } {
  const r = spawnSync(DCMDUMP, args, { maxBuffer: 256 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString("utf8") };
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out.sort();
}

const root = mkdtempSync(join(tmpdir(), "gen-archive-test-"));
after(() => rmSync(root, { recursive: true, force: true }));

interface Parsed {
  file: string;
  buf: Buffer;
  meta: Dataset;
  ds: Dataset;
  ts: string;
}

function parseAll(dir: string): Parsed[] {
  return walk(dir).map((file) => {
    const buf = readFileSync(file);
    const { header, dataset } = parsePart10(buf);
    return { file, buf, meta: header.meta, ds: dataset, ts: header.transferSyntax };
  });
}

const runGen = (argv: string[]) => runMain(main, argv);

const DS_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const IS_RE = /^[+-]?\d+$/;
const TEXT_VRS = new Set([
  "AE",
  "AS",
  "CS",
  "DA",
  "DS",
  "DT",
  "IS",
  "LO",
  "LT",
  "PN",
  "SH",
  "ST",
  "TM",
  "UC",
  "UI",
  "UR",
  "UT",
]);

describe("default archive", () => {
  const dir = join(root, "default");
  let summary: ArchiveSummary;
  let files: Parsed[];

  before(async () => {
    summary = await generateArchive({ out: dir });
    files = parseAll(dir);
  });

  test("summary counts match the files on disk", () => {
    assert.equal(files.length, summary.instances);
    assert.equal(
      files.reduce((n, f) => n + f.buf.length, 0),
      summary.bytes,
    );
    const rels = files.map((f) => relative(dir, f.file).split(sep));
    assert.ok(
      rels.every((r) => r.length === 4),
      "hierarchy layout: PatientID/Study/Series/SOP.dcm",
    );
    assert.equal(new Set(rels.map((r) => r[0])).size, summary.patients);
    assert.equal(new Set(rels.map((r) => r[1])).size, summary.studies);
    assert.equal(new Set(rels.map((r) => r[2])).size, summary.series);
    assert.equal(summary.patients, 12);
    assert.ok(summary.instances > 50 && summary.instances < 1000);
    const dates = files.map((f) => f.ds.string(Tags.StudyDate)!).sort();
    assert.equal(summary.firstStudyDate, dates[0]);
    assert.equal(summary.lastStudyDate, dates[dates.length - 1]);
    assert.ok(dates.every((d) => d >= "20240101" && d <= "20241231"));
    const series = Object.values(summary.modalities).reduce((a, b) => a + b, 0);
    assert.equal(series, summary.series);
    const inst = Object.values(summary.institutions).reduce((a, b) => a + b, 0);
    assert.equal(inst + summary.seriesWithoutInstitution, summary.series);
  });

  test("paths are PatientID/StudyUID/SeriesUID/SOPUID.dcm", () => {
    for (const f of files) {
      const [pid, study, series, name] = relative(dir, f.file).split(sep);
      assert.equal(pid, f.ds.string(Tags.PatientID));
      assert.equal(study, f.ds.string(Tags.StudyInstanceUID));
      assert.equal(series, f.ds.string(Tags.SeriesInstanceUID));
      assert.equal(name, `${f.ds.string(Tags.SOPInstanceUID)}.dcm`);
    }
    assert.ok(!walk(dir).some((p) => basename(p).startsWith(".")), "no temporary files left");
  });

  test("Part 10 preamble and meta header", () => {
    for (const f of files) {
      assert.ok(f.buf.subarray(0, 128).every((b) => b === 0));
      assert.equal(f.buf.toString("latin1", 128, 132), "DICM");
      assert.equal(f.ts, TransferSyntax.ExplicitVRLittleEndian);
      assert.equal(f.meta.string(Tags.MediaStorageSOPClassUID), f.ds.string(Tags.SOPClassUID));
      assert.equal(
        f.meta.string(Tags.MediaStorageSOPInstanceUID),
        f.ds.string(Tags.SOPInstanceUID),
      );
      // Group length covers exactly the rest of group 0002.
      const gl = f.buf.readUInt32LE(132 + 8);
      assert.equal(f.buf.readUInt16LE(132 + 12 + gl), 0x0008);
    }
  });

  test("modalities, SOP classes and multi-series CT/MR studies", () => {
    const modalities = new Set(files.map((f) => f.ds.string(Tags.Modality)));
    assert.deepEqual([...modalities].sort(), ["CR", "CT", "MR", "PT", "US"]);
    for (const f of files) {
      const m = f.ds.string(Tags.Modality) as keyof typeof STORAGE_SOP_CLASS;
      assert.equal(f.ds.string(Tags.SOPClassUID), STORAGE_SOP_CLASS[m]);
    }
    const seriesPerStudy = new Map<string, Set<string>>();
    for (const f of files) {
      if (!["CT", "MR"].includes(f.ds.string(Tags.Modality)!)) continue;
      const k = f.ds.string(Tags.StudyInstanceUID)!;
      if (!seriesPerStudy.has(k)) seriesPerStudy.set(k, new Set());
      seriesPerStudy.get(k)!.add(f.ds.string(Tags.SeriesInstanceUID)!);
    }
    assert.ok([...seriesPerStudy.values()].some((s) => s.size > 1));
    // Required descriptive attributes are all there.
    for (const f of files) {
      for (const tag of [
        0x00080008, 0x00080020, 0x00080030, 0x00080050, 0x00080090, 0x00081030, 0x0008103e,
        0x00181030, 0x00100010, 0x00100020, 0x00100030, 0x00100040, 0x00101010, 0x00180015,
        0x00200010, 0x00200011, 0x00200013, 0x00280010, 0x00280011, 0x00280030, 0x7fe00010,
      ]) {
        assert.ok(f.ds.has(tag), `${f.file} lacks ${tag.toString(16)}`);
      }
      assert.ok(f.ds.strings(Tags.ImageType)!.length >= 2);
      assert.equal(f.ds.string(0x00280004), "MONOCHROME2");
      assert.deepEqual(elementNumbers(f.ds.get(0x00280002)!), [1]);
      const bits = elementNumbers(f.ds.get(0x00280100)!)[0] as number;
      const stored = elementNumbers(f.ds.get(0x00280101)!)[0] as number;
      assert.deepEqual(elementNumbers(f.ds.get(0x00280102)!), [stored - 1]);
      const rows = elementNumbers(f.ds.get(0x00280010)!)[0] as number;
      const cols = elementNumbers(f.ds.get(0x00280011)!)[0] as number;
      assert.equal(f.ds.get(Tags.PixelData)!.value!.length, (rows * cols * bits) / 8);
      assert.equal(f.ds.get(Tags.PixelData)!.vr, bits === 8 ? "OB" : "OW");
    }
  });

  test("institution names: canonical, variants, empty and absent", () => {
    const names = files.map((f) =>
      f.ds.has(Tags.InstitutionName) ? f.ds.string(Tags.InstitutionName)! : null,
    );
    assert.ok(names.includes(null), "some instances without InstitutionName");
    assert.ok(names.includes(""), "some instances with an empty InstitutionName");
    const present = names.filter((n): n is string => !!n);
    const norm = (s: string) => s.toLowerCase().replace(/\s+/g, " ");
    const groups = new Map<string, Set<string>>();
    for (const n of present) {
      if (!groups.has(norm(n))) groups.set(norm(n), new Set());
      groups.get(norm(n))!.add(n);
    }
    assert.ok(
      [...groups.values()].some((g) => g.size > 1),
      "variants differing in case/whitespace",
    );
    // Institution is constant within a series.
    const bySeries = new Map<string, string | null>();
    for (const f of files) {
      const n = f.ds.has(Tags.InstitutionName) ? f.ds.string(Tags.InstitutionName)! : null;
      const k = f.ds.string(Tags.SeriesInstanceUID)!;
      if (bySeries.has(k)) assert.equal(bySeries.get(k), n);
      bySeries.set(k, n);
    }
  });

  test("character sets and non-ASCII names (raw bytes)", () => {
    const byName = new Map<string, Parsed[]>();
    for (const f of files) {
      const n = f.ds.string(Tags.PatientName)!;
      if (!byName.has(n)) byName.set(n, []);
      byName.get(n)!.push(f);
    }
    const mueller = byName.get("Müller^Jörg");
    assert.ok(mueller, "Müller^Jörg present");
    const latin = mueller.find((f) => f.ds.string(Tags.SpecificCharacterSet) === "ISO_IR 100");
    assert.ok(latin, "Müller^Jörg written with ISO_IR 100");
    assert.deepEqual(latin.ds.get(Tags.PatientName)!.value, Buffer.from("Müller^Jörg ", "latin1"));
    assert.ok(byName.get("Lefèvre^Zoë"));
    const yamada = byName.get("Yamada^Tarou=山田^太郎=やまだ^たろう");
    assert.ok(yamada, "Japanese name present");
    for (const f of yamada) {
      assert.equal(f.ds.string(Tags.SpecificCharacterSet), "ISO_IR 192");
      assert.ok(f.buf.includes(Buffer.from("山田^太郎", "utf8")));
    }
    assert.ok(
      [...byName.keys()].some((n) => /[\u0370-\u03ff]/.test(n)),
      "a Greek name",
    );
    const counts: Record<string, number> = {};
    for (const f of files) {
      const cs = f.ds.string(Tags.SpecificCharacterSet) ?? "none";
      counts[cs] = (counts[cs] ?? 0) + 1;
      // No charset only when every text value is plain ASCII.
      if (cs === "none") {
        for (const el of f.ds.elements) {
          if (TEXT_VRS.has(el.vr))
            assert.ok(
              el.value!.every((b) => b < 0x80),
              `${f.file}: non-ASCII text without SpecificCharacterSet`,
            );
        }
      }
    }
    assert.deepEqual(counts, summary.charsets);
    assert.ok(counts.none! > 0 && counts["ISO_IR 100"]! > 0 && counts["ISO_IR 192"]! > 0);
  });

  test("private block in every instance", () => {
    for (const f of files) {
      assert.equal(f.ds.string(PrivateTags.Creator), PRIVATE_CREATOR);
      assert.equal(f.ds.get(PrivateTags.Path)?.vr, "LO");
      assert.equal(f.ds.get(PrivateTags.Hash)?.vr, "UL");
      assert.equal(f.ds.get(PrivateTags.Decimal)?.vr, "DS");
      assert.equal(f.ds.get(PrivateTags.Words)?.vr, "US");
      assert.equal(f.ds.get(PrivateTags.Bytes)?.vr, "OB");
      assert.equal(f.ds.get(PrivateTags.Double)?.vr, "FD");
      const inst = Number(f.ds.string(Tags.InstanceNumber));
      assert.deepEqual(elementNumbers(f.ds.get(PrivateTags.Words)!), [inst, 0xbeef]);
      assert.equal(elementNumbers(f.ds.get(PrivateTags.Double)!)[0], Math.PI * inst);
    }
  });

  test("DS and IS values are valid", () => {
    let ds = 0;
    const check = (d: Dataset) => {
      for (const el of d.elements) {
        if (el.items) el.items.forEach(check);
        if (el.vr !== "DS" && el.vr !== "IS") continue;
        const raw = el.value!.toString("latin1");
        for (const v of raw.split("\\").map((s) => s.trim())) {
          if (v === "") continue;
          ds++;
          if (el.vr === "DS") {
            assert.match(v, DS_RE, `DS ${v}`);
            assert.ok(v.length <= 16, `DS ${v} too long`);
          } else {
            assert.match(v, IS_RE, `IS ${v}`);
            assert.ok(v.length <= 12 && Math.abs(Number(v)) < 2 ** 31);
          }
        }
      }
    };
    for (const f of files) check(f.ds);
    assert.ok(ds > files.length);
  });

  test("TM, DA and AS values are well formed", () => {
    for (const f of files) {
      assert.match(f.ds.string(Tags.StudyTime)!, /^([01]\d|2[0-3])[0-5]\d([0-5]\d(\.\d{1,6})?)?$/);
      assert.match(f.ds.string(Tags.PatientBirthDate)!, /^(19|20)\d{6}$/);
      assert.match(f.ds.string(0x00101010)!, /^\d{3}[DWMY]$/);
      assert.ok(f.ds.string(Tags.PatientBirthDate)! < f.ds.string(Tags.StudyDate)!);
    }
  });

  test("dcmdump parses every file", (t) => {
    if (!needDcmdump(t)) return;
    const r = dcmdump(["+sd", "+r", "-q", dir]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
    const text = r.stdout.toString("latin1");
    assert.equal(text.split("# Dicom-File-Format").length - 1, summary.instances);
    assert.equal(text.split("(0009,0010) LO [DICOMPIPES TEST]").length - 1, summary.instances);
    assert.equal(
      (text.match(/\(0002,0010\) UI =LittleEndianExplicit/g) ?? []).length,
      summary.instances,
    );
    assert.equal(
      (text.match(/\(0008,0005\) CS \[ISO_IR 100\]/g) ?? []).length,
      summary.charsets["ISO_IR 100"],
    );
    assert.equal(
      (text.match(/\(0008,0005\) CS \[ISO_IR 192\]/g) ?? []).length,
      summary.charsets["ISO_IR 192"],
    );
    for (const tag of ["1001) LO", "1002) UL", "1003) DS", "1004) US", "1005) OB", "1006) FD"]) {
      assert.equal(text.split(`(0009,${tag}`).length - 1, summary.instances, tag);
    }
    assert.ok(text.includes("(0054,0016) SQ"), "PT radiopharmaceutical sequence");
  });

  test("dcmdump +U8 decodes the names", (t) => {
    if (!needDcmdump(t)) return;
    const r = dcmdump(["+sd", "+r", "+U8", "-q", dir]);
    assert.equal(r.status, 0, r.stderr);
    const text = r.stdout.toString("utf8");
    for (const name of [
      "Müller^Jörg",
      "Lefèvre^Zoë",
      "Yamada^Tarou=山田^太郎=やまだ^たろう",
      "Papadopoulou^Eleni=Παπαδοπούλου^Ελένη",
      "Universitätsklinikum Nordheide",
    ]) {
      assert.ok(text.includes(`[${name}]`), name);
    }
    assert.ok(!text.includes("\ufffd"), "no replacement characters");
  });
});

test("weekday × hour pattern: busy weekday mornings, quiet nights and weekends", () => {
  const seen = new Set<string>();
  const perWeekday = Array<number>(7).fill(0);
  const weekdayHours = Array<number>(24).fill(0);
  for (const inst of generateInstances({
    out: "unused",
    patients: 1500,
    seriesPerStudy: 1,
    instancesPerSeries: 1,
  })) {
    if (seen.has(inst.studyInstanceUID)) continue;
    seen.add(inst.studyInstanceUID);
    const d = inst.studyDate;
    const wd = new Date(Date.UTC(+d.slice(0, 4), +d.slice(4, 6) - 1, +d.slice(6, 8))).getUTCDay();
    perWeekday[wd]!++;
    if (wd !== 0 && wd !== 6)
      weekdayHours[Number(inst.dataset.string(Tags.StudyTime)!.slice(0, 2))]!++;
  }
  const workdays = perWeekday.slice(1, 6).reduce((a, b) => a + b, 0) / 5;
  const weekend = (perWeekday[0]! + perWeekday[6]!) / 2;
  assert.ok(workdays > 2.5 * weekend, `workdays ${workdays} vs weekend ${weekend}`);
  const total = weekdayHours.reduce((a, b) => a + b, 0);
  const office = weekdayHours.slice(8, 16).reduce((a, b) => a + b, 0);
  const night = weekdayHours.slice(0, 6).reduce((a, b) => a + b, 0);
  assert.ok(office / total > 0.6, `office hours ${office}/${total}`);
  assert.ok(night / total < 0.05, `night ${night}/${total}`);
  assert.ok(night > 0, "some emergency studies at night");
});

test("determinism: same seed gives byte-identical files, another seed differs", async () => {
  const a = join(root, "det-a");
  const b = join(root, "det-b");
  const c = join(root, "det-c");
  const sa = await generateArchive({ out: a, seed: "demo", patients: 6 });
  const sb = await generateArchive({ out: b, seed: "demo", patients: 6 });
  await generateArchive({ out: c, seed: "other", patients: 6 });
  assert.deepEqual({ ...sa, out: "" }, { ...sb, out: "" });
  const fa = walk(a).map((f) => relative(a, f));
  const fb = walk(b).map((f) => relative(b, f));
  assert.deepEqual(fa, fb);
  for (const rel of fa)
    assert.ok(readFileSync(join(a, rel)).equals(readFileSync(join(b, rel))), rel);
  const fc = new Set(walk(c).map((f) => basename(f)));
  assert.ok(!fa.some((rel) => fc.has(basename(rel))), "different seed, different UIDs");
  // More patients extend the archive without changing the first ones.
  const d = join(root, "det-d");
  await generateArchive({ out: d, seed: "demo", patients: 8 });
  for (const rel of fa)
    assert.ok(readFileSync(join(a, rel)).equals(readFileSync(join(d, rel))), rel);
});

test("fixed ranges and --max-instances give exact counts", async () => {
  const s = await generateArchive({
    out: join(root, "exact"),
    patients: 3,
    studiesPerPatient: 2,
    seriesPerStudy: 2,
    instancesPerSeries: 3,
  });
  assert.deepEqual([s.patients, s.studies, s.series, s.instances], [3, 6, 12, 36]);
  assert.equal(walk(join(root, "exact")).length, 36);
  const m = await generateArchive({ out: join(root, "max"), patients: 50, maxInstances: 17 });
  assert.equal(m.instances, 17);
  assert.equal(walk(join(root, "max")).length, 17);
});

test("CLI: --layout flat --transfer-syntax big, one JSON line on stdout", async (t) => {
  const dir = join(root, "flat-big");
  const r = await runGen([
    "--out",
    dir,
    "--layout",
    "flat",
    "--transfer-syntax",
    "big",
    "--patients",
    "4",
    "--seed",
    "7",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.split("\n").length, 2);
  const summary = JSON.parse(r.stdout) as ArchiveSummary;
  assert.equal(summary.transferSyntax, TransferSyntax.ExplicitVRBigEndian);
  const entries = readdirSync(dir, { withFileTypes: true });
  assert.ok(entries.every((e) => e.isFile() && e.name.endsWith(".dcm")));
  assert.equal(entries.length, summary.instances);
  const files = parseAll(dir);
  for (const f of files) {
    assert.equal(basename(f.file), `${f.ds.string(Tags.SOPInstanceUID)}.dcm`);
    assert.equal(f.ts, TransferSyntax.ExplicitVRBigEndian);
    // Binary values are big endian on disk.
    assert.deepEqual(f.ds.get(0x00280010)!.value, Buffer.from([0, 64]));
    assert.deepEqual(elementNumbers(f.ds.get(PrivateTags.Words)!, false), [
      Number(f.ds.string(Tags.InstanceNumber)),
      0xbeef,
    ]);
  }
  // Same content as the little endian archive with the same seed.
  const le = join(root, "flat-le");
  await generateArchive({ out: le, layout: "flat", patients: 4, seed: "7" });
  for (const f of files.slice(0, 20)) {
    const g = parsePart10(readFileSync(join(le, basename(f.file)))).dataset;
    assert.equal(f.ds.string(Tags.PatientName), g.string(Tags.PatientName));
    const bits = elementNumbers(g.get(0x00280100)!)[0];
    const a = Buffer.from(f.ds.get(Tags.PixelData)!.value!);
    if (bits === 16) a.swap16();
    assert.ok(a.equals(g.get(Tags.PixelData)!.value!), "pixel data swapped");
  }
  if (!needDcmdump(t)) return;
  const d = dcmdump(["+sd", "-q", dir]);
  assert.equal(d.status, 0, d.stderr);
  const text = d.stdout.toString("latin1");
  assert.equal((text.match(/=BigEndianExplicit/g) ?? []).length, summary.instances);
  assert.equal((text.match(/\(0028,0010\) US 64 /g) ?? []).length, summary.instances);
});

test("implicit VR little endian", async (t) => {
  const dir = join(root, "implicit");
  const s = await generateArchive({ out: dir, transferSyntax: "implicit", patients: 4 });
  const files = parseAll(dir);
  assert.equal(files.length, s.instances);
  for (const f of files) {
    assert.equal(f.ts, TransferSyntax.ImplicitVRLittleEndian);
    assert.equal(f.ds.string(PrivateTags.Creator), PRIVATE_CREATOR);
  }
  if (!needDcmdump(t)) return;
  const d = dcmdump(["+sd", "+r", "+U8", "-q", dir]);
  assert.equal(d.status, 0, d.stderr);
  const text = d.stdout.toString("utf8");
  assert.equal((text.match(/=LittleEndianImplicit/g) ?? []).length, s.instances);
  assert.ok(text.includes("[Müller^Jörg]"));
});

test("512 × 512 × 16-bit instances are about 530 KB", async (t) => {
  const dir = join(root, "large");
  const s = await generateArchive({
    out: dir,
    patients: 1,
    studiesPerPatient: 1,
    seriesPerStudy: 1,
    instancesPerSeries: 3,
    rows: 512,
    cols: 512,
    bits: 16,
  });
  assert.equal(s.instances, 3);
  for (const f of walk(dir)) {
    const size = statSync(f).size;
    assert.ok(size > 512 * 512 * 2 && size < 540_000, `${size}`);
  }
  if (!needDcmdump(t)) return;
  const d = dcmdump(["+sd", "+r", "-q", dir]);
  assert.equal(d.status, 0, d.stderr);
  assert.equal((d.stdout.toString("latin1").match(/\(0028,0010\) US 512 /g) ?? []).length, 3);
});

test("CLI: help, version and usage errors", async () => {
  const h = await runGen(["--help"]);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /--transfer-syntax/);
  const v = await runGen(["--version"]);
  assert.match(
    v.stdout,
    /^gen-archive \d+\.\d+\.\d+ \(dicom-pipes; DICOM dictionary: dcmjs [\d.]+\)\n$/,
  );
  for (const argv of [
    ["--patients", "3"],
    ["--out", "x", "--bits", "12"],
    ["--out", "x", "--layout", "tree"],
    ["--out", "x", "--series-per-study", "4-2"],
    ["--out", "x", "--start-date", "20240230"],
    ["--out", "x", "--start-date", "20240301", "--end-date", "20240201"],
    ["--out", "x", "--nope"],
  ]) {
    const r = await runGen(argv);
    assert.equal(r.code, 2, argv.join(" "));
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /Try 'gen-archive --help'/);
  }
});
