/**
 * movescu-ts / getscu-ts against the dev PACS (in-process, over a
 * generated archive): C-MOVE to self and C-GET at study, series and image
 * level from findscu-ts records and CSV, layouts, --info, --emit files,
 * result records, failure statuses, completeness, parallelism and pacing.
 *
 * Expected values come from the archive files (UIDs, dataset bytes,
 * attributes) and from what the archive was asked (C-MOVE/C-GET requests
 * counted at the PACS), never from movescu-ts's own output.
 */
import { before, after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateArchive } from "@dicom-pipes/gen-archive";
import { startDevPacs, type DevPacs } from "@dicom-pipes/devpacs";
import {
  buildPart10Prefix,
  encodeDataset,
  parsePart10,
  Tags,
  type Dataset,
} from "@dicom-pipes/dimse/dicom";
import { connect } from "@dicom-pipes/dimse/net";
import {
  runBin,
  runShell,
  shellWord,
  ndjson,
  startBin,
  until,
} from "@dicom-pipes/test-support/bins";
import { freePort } from "@dicom-pipes/test-support/peers";
import { filesUnder, metaOf } from "@dicom-pipes/test-support/files";
import {
  checkReceived,
  pacsifierClean,
  sourceInstances,
  type SourceInstance,
} from "@dicom-pipes/test-support/retrieve";

let dir: string;
let archive: string;
let pacs: DevPacs;
let port: number;
let source: Map<string, SourceInstance>;
/** C-MOVE / C-GET requests the archive received: time, level, unique keys. */
let calls: Array<{ t: number; level: string; study?: string; series?: string; sops?: string }> = [];

interface Inst {
  sop: string;
  sopClass: string;
  patient: string;
  study: string;
  series: string;
  head: Dataset;
}
let insts: Inst[] = [];

/** The instances a dev PACS serves, as the archive holds them. */
const instsOf = (p: DevPacs): Inst[] =>
  [...p.archive.instances.values()].map((i) => ({
    sop: i.sopInstanceUid,
    sopClass: i.sopClassUid,
    patient: i.patientId,
    study: i.studyUid,
    series: i.seriesUid,
    head: i.head,
  }));

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "movescu-retrieve-"));
  archive = join(dir, "archive");
  await generateArchive({
    out: archive,
    patients: 4,
    seed: "retrieve",
    studiesPerPatient: [1, 2],
    seriesPerStudy: [2, 3],
    instancesPerSeries: [1, 3],
    rows: 16,
    cols: 16,
  });
  source = await sourceInstances(archive);
  port = await freePort();
  pacs = await startDevPacs({
    dir: archive,
    moveDestinations: { MOVESCU: { host: "127.0.0.1", port } },
  });
  // Count what the archive is asked to send (each C-MOVE/C-GET selects its instances once).
  const select = pacs.archive.select.bind(pacs.archive);
  pacs.archive.select = (identifier, level) => {
    calls.push({
      t: Date.now(),
      level,
      study: identifier.string(Tags.StudyInstanceUID),
      series: identifier.string(Tags.SeriesInstanceUID),
      sops: identifier.string(Tags.SOPInstanceUID),
    });
    return select(identifier, level);
  };
  insts = instsOf(pacs);
});

after(async () => {
  await pacs?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const uniq = <T>(xs: T[]): T[] => [...new Set(xs)];
const studies = () => uniq(insts.map((i) => i.study)).sort();
const seriesOf = (study?: string) =>
  uniq(insts.filter((i) => !study || i.study === study).map((i) => i.series)).sort();
const inStudy = (s: string) => insts.filter((i) => i.study === s);
const inSeries = (s: string) => insts.filter((i) => i.series === s);
const out = (name: string) => mkdtemp(join(dir, `${name}-`));
const find = (args: string[]) =>
  runBin("findscu-ts", ["-S", "-aec", "DEVPACS", "127.0.0.1", String(pacs.port), ...args]);
const move = (od: string, extra: string[], input?: string) =>
  runBin(
    "movescu-ts",
    [
      "-S",
      "-aec",
      "DEVPACS",
      "+P",
      String(port),
      "-od",
      od,
      ...extra,
      "127.0.0.1",
      String(pacs.port),
    ],
    { input },
  );

/** DCMTK's file-name prefix for the storage classes gen-archive writes (dcmSOPClassUIDToModality). */
const PREFIX: Record<string, string> = {
  "1.2.840.10008.5.1.4.1.1.2": "CT",
  "1.2.840.10008.5.1.4.1.1.4": "MR",
  "1.2.840.10008.5.1.4.1.1.1": "CR",
  "1.2.840.10008.5.1.4.1.1.6.1": "US",
  "1.2.840.10008.5.1.4.1.1.128": "PI",
};

/** Received files (no journal, no hidden files), checked against the archive: exactly `want`, byte-identical datasets. */
async function assertReceived(od: string, want: Inst[], files?: string[]): Promise<string[]> {
  const all =
    files ??
    (await filesUnder(od, { hidden: true })).filter(
      (f) => f !== ".movescu-ts.journal" && !f.endsWith(".csv"),
    );
  assert.ok(
    !all.some((f) => /(^|\/)\.|\.part$|\.tmp$/.test(f)),
    `no hidden or temporary files: ${all.filter((f) => /(^|\/)\./.test(f)).join(", ")}`,
  );
  const c = await checkReceived(od, all, source);
  assert.deepEqual(c.unknown, [], "every file is an archive instance");
  assert.deepEqual(c.duplicates, [], "no instance twice");
  assert.deepEqual(c.differing, [], "datasets byte-identical to the archive's");
  assert.deepEqual(
    c.uids,
    want.map((i) => i.sop).sort(),
    "received SOP Instance UIDs = the archive's",
  );
  assert.equal(all.length, want.length);
  return all;
}

/** Sum of the sizes of files (relative to od). */
async function sizes(od: string, files: string[]): Promise<number> {
  let n = 0;
  for (const f of files) n += (await stat(join(od, f))).size;
  return n;
}

function dcmtkName(i: Inst): string {
  return `${PREFIX[i.sopClass]}.${i.sop}`;
}

test("STUDY level: findscu-ts records on stdin, C-MOVE to self, DCMTK names, result records carry the input keys", async () => {
  const f = await find([
    "-k",
    "QueryRetrieveLevel=STUDY",
    "-k",
    "StudyInstanceUID",
    "-k",
    "PatientID",
    "-k",
    "AccessionNumber",
    "-k",
    "NumberOfStudyRelatedInstances",
  ]);
  assert.equal(f.code, 0, f.stderr);
  const input = ndjson(f.stdout);
  assert.equal(input.length, studies().length);
  const od = await out("study");
  calls = [];
  const r = await move(od, [], f.stdout);
  assert.equal(r.code, 0, r.stderr);
  const files = await assertReceived(od, insts);
  assert.deepEqual(
    files.sort(),
    insts.map(dcmtkName).sort(),
    "DCMTK's <prefix>.<SOPInstanceUID> names",
  );
  assert.deepEqual(
    calls.map((c) => `${c.level} ${c.study}`).sort(),
    studies().map((s) => `STUDY ${s}`),
    "one STUDY C-MOVE per record",
  );
  const results = ndjson(r.stdout);
  assert.equal(results.length, input.length);
  for (const [n, rec] of input.entries()) {
    const res = results.find((x) => x.StudyInstanceUID === rec.StudyInstanceUID)!;
    assert.ok(res, `a result for record ${n + 1}`);
    for (const [k, v] of Object.entries(rec)) assert.deepEqual(res[k], v, `input key ${k} echoed`);
    const members = inStudy(rec.StudyInstanceUID as string);
    assert.equal(res.status, "Success");
    assert.equal(res.completed, members.length);
    assert.equal(res.failed, 0);
    assert.equal(res.warning, 0);
    assert.equal(res.files, members.length);
    assert.equal(
      res.bytes,
      await sizes(od, members.map(dcmtkName)),
      "bytes = the sizes of the files written",
    );
    assert.equal(res.error, undefined);
  }
});

test("SERIES level: findscu-ts records, --layout hierarchy", async () => {
  const study = studies()[1]!;
  const f = await find([
    "-k",
    "QueryRetrieveLevel=SERIES",
    "-k",
    `StudyInstanceUID=${study}`,
    "-k",
    "SeriesInstanceUID",
    "-k",
    "Modality",
    "-k",
    "NumberOfSeriesRelatedInstances",
  ]);
  assert.equal(f.code, 0, f.stderr);
  const od = await out("series");
  calls = [];
  const r = await move(od, ["--layout", "hierarchy"], f.stdout);
  assert.equal(r.code, 0, r.stderr);
  const want = inStudy(study);
  const files = await assertReceived(od, want);
  assert.deepEqual(
    files,
    want.map((i) => `${i.patient}/${i.study}/${i.series}/${i.sop}.dcm`).sort(),
  );
  assert.deepEqual(
    calls.map((c) => `${c.level} ${c.series}`).sort(),
    seriesOf(study).map((s) => `SERIES ${s}`),
  );
  const results = ndjson(r.stdout);
  assert.deepEqual(
    results.map((x) => [x.SeriesInstanceUID, x.Modality, x.status, x.completed, x.files]).sort(),
    seriesOf(study)
      .map((s) => [
        s,
        inSeries(s)[0]!.head.string(Tags.Modality),
        "Success",
        inSeries(s).length,
        inSeries(s).length,
      ])
      .sort(),
  );
});

test("IMAGE level: a CSV of UIDs with --input, --layout pacsifier, --info dumps", async () => {
  // Two instances of each of three series from different studies.
  const picks = studies()
    .slice(0, 3)
    .flatMap((s) => inSeries(seriesOf(s)[0]!).slice(0, 2));
  const csv = `${[
    "StudyInstanceUID,SeriesInstanceUID,SOPInstanceUID",
    ...picks.map((i) => `${i.study},${i.series},${i.sop}`),
  ].join("\n")}\n`;
  const file = join(dir, "images.csv");
  await writeFile(file, csv);
  const od = await out("image");
  calls = [];
  const r = await move(od, ["--input", file, "--layout", "pacsifier", "--info"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    calls.map((c) => `${c.level} ${c.sops}`).sort(),
    picks.map((i) => `IMAGE ${i.sop}`).sort(),
    "one IMAGE C-MOVE per row",
  );
  const all = await filesUnder(od, { hidden: true });
  const dumps = all.filter((f) => f.endsWith(".csv"));
  const files = await assertReceived(
    od,
    picks,
    all.filter((f) => f !== ".movescu-ts.journal" && !f.endsWith(".csv")),
  );
  // PACSIFIER (seed-behaviour §3.4): sub-<PatientID'>/ses-<StudyDate><StudyTime>/<SeriesNumber 5 digits>-<SeriesDescription'>/<prefix>.<SOPInstanceUID>
  const folder = (i: Inst) => {
    const h = i.head;
    const desc = pacsifierClean(h.string(Tags.SeriesDescription) ?? "");
    const num = (h.string(Tags.SeriesNumber) ?? "").trim();
    return `sub-${pacsifierClean(i.patient)}/ses-${h.string(Tags.StudyDate)}${h.string(Tags.StudyTime)}/${(num === "" ? "0" : num).padStart(5, "0")}-${desc.replace(/_/g, "") === "" ? "No_series_description" : desc}`;
  };
  assert.deepEqual(files, picks.map((i) => `${folder(i)}/${dcmtkName(i)}`).sort());
  // --info: <series folder>.csv, a sibling of the folder, PACSIFIER's header, one row, CRLF.
  const seriesPicks = uniq(picks.map((i) => i.series)).map(
    (s) => picks.find((i) => i.series === s)!,
  );
  assert.deepEqual(
    dumps,
    seriesPicks.map((i) => `${folder(i)}.csv`).sort(),
    "one dump per series, next to its folder",
  );
  const COLUMNS: Array<[string, number]> = [
    ["StudyDate", Tags.StudyDate],
    ["StudyTime", Tags.StudyTime],
    ["SeriesDescription", Tags.SeriesDescription],
    ["PatientID", Tags.PatientID],
    ["ProtocolName", 0x00181030],
    ["StudyInstanceUID", Tags.StudyInstanceUID],
    ["PatientName", Tags.PatientName],
    ["PatientBirthDate", Tags.PatientBirthDate],
    ["SeriesInstanceUID", Tags.SeriesInstanceUID],
    ["DeviceSerialNumber", 0x00181000],
    ["Modality", Tags.Modality],
    ["ImageType", Tags.ImageType],
    ["SeriesNumber", Tags.SeriesNumber],
    ["StudyDescription", Tags.StudyDescription],
    ["AccessionNumber", Tags.AccessionNumber],
    ["SequenceName", 0x00180024],
  ];
  for (const i of seriesPicks) {
    const text = await readFile(join(od, `${folder(i)}.csv`), "utf8");
    const lines = text.split("\r\n");
    assert.equal(lines.length, 3, "header, one row, final CRLF");
    assert.equal(lines[2], "");
    assert.ok(!/(^|[^\r])\n/.test(text), "CRLF line ends only");
    const cols = [...COLUMNS];
    if (i.head.has(0x00080022)) cols.push(["AcquisitionDate", 0x00080022]);
    assert.equal(lines[0], cols.map(([k]) => k).join(","));
    assert.deepEqual(
      parseCsvRow(lines[1]!),
      cols.map(([, t]) => i.head.string(t) ?? ""),
      "values from the series' data",
    );
  }
  // The result records carry the CSV's columns.
  const results = ndjson(r.stdout);
  assert.deepEqual(
    results
      .map((x) => [
        x.StudyInstanceUID,
        x.SeriesInstanceUID,
        x.SOPInstanceUID,
        x.status,
        x.completed,
        x.files,
      ])
      .sort(),
    picks.map((i) => [i.study, i.series, i.sop, "Success", 1, 1]).sort(),
  );
});

test("IMAGE level through a real pipe: findscu-ts … | movescu-ts …", async () => {
  const series = seriesOf().find((x) => inSeries(x).length > 1)!;
  const study = inSeries(series)[0]!.study;
  const od = await out("pipe");
  calls = [];
  const r = await runShell(
    `${shellWord("findscu-ts")} -S -aec DEVPACS 127.0.0.1 ${pacs.port} -k QueryRetrieveLevel=IMAGE -k StudyInstanceUID=${study} -k SeriesInstanceUID=${series} -k SOPInstanceUID 2>/dev/null | ${shellWord("movescu-ts")} -S -aec DEVPACS +P ${port} -od "${od}" 127.0.0.1 ${pacs.port}`,
  );
  assert.equal(r.code, 0, r.stderr);
  const want = inSeries(series);
  const files = await assertReceived(od, want);
  assert.deepEqual(files, want.map(dcmtkName).sort());
  assert.deepEqual(
    calls.map((c) => `${c.level} ${c.sops}`).sort(),
    want.map((i) => `IMAGE ${i.sop}`).sort(),
    "one IMAGE C-MOVE per findscu-ts record",
  );
  assert.ok(
    ndjson(r.stdout).every(
      (x) =>
        x.status === "Success" &&
        x.completed === 1 &&
        x.files === 1 &&
        x.QueryRetrieveLevel === "IMAGE",
    ),
  );
});

/**
 * Copies of two series with edited attributes, served by a second dev PACS:
 * PACSIFIER's folder names for odd values (seed-behaviour §3.4).
 */
async function edgeArchive(
  edits: Array<{ series: string; edit: (ds: Dataset) => void }>,
): Promise<{ pacs: DevPacs; port: number; source: Map<string, SourceInstance>; insts: Inst[] }> {
  const root = await mkdtemp(join(dir, "edge-archive-"));
  for (const { series, edit } of edits) {
    for (const i of inSeries(series)) {
      const { header, dataset } = parsePart10(await readFile(source.get(i.sop)!.path));
      edit(dataset);
      const prefix = buildPart10Prefix({
        sopClassUID: header.sopClassUID,
        sopInstanceUID: header.sopInstanceUID,
        transferSyntax: header.transferSyntax,
      });
      await mkdir(join(root, series), { recursive: true });
      await writeFile(
        join(root, series, `${i.sop}.dcm`),
        Buffer.concat([prefix, encodeDataset(dataset, header.transferSyntax)]),
      );
    }
  }
  const rport = await freePort();
  const edge = await startDevPacs({
    dir: root,
    moveDestinations: { MOVESCU: { host: "127.0.0.1", port: rport } },
  });
  return { pacs: edge, port: rport, source: await sourceInstances(root), insts: instsOf(edge) };
}

const latin1 = (tag: number, vr: string, text: string) => {
  const b = Buffer.from(text, "latin1");
  return { tag, vr, value: b.length % 2 ? Buffer.concat([b, Buffer.from(" ")]) : b };
};

async function pacsifierRun(
  edits: Array<{ series: string; edit: (ds: Dataset) => void }>,
): Promise<{ files: string[]; dumps: string[]; insts: Inst[] }> {
  const e = await edgeArchive(edits);
  try {
    const od = await out("pacsifier-edge");
    const input = `${edits
      .map(({ series }) =>
        JSON.stringify({
          StudyInstanceUID: inSeries(series)[0]!.study,
          SeriesInstanceUID: series,
        }),
      )
      .join("\n")}\n`;
    const r = await runBin(
      "movescu-ts",
      [
        "-S",
        "+P",
        String(e.port),
        "-od",
        od,
        "--layout",
        "pacsifier",
        "--info",
        "127.0.0.1",
        String(e.pacs.port),
      ],
      { input },
    );
    assert.equal(r.code, 0, r.stderr);
    const all = (await filesUnder(od, { hidden: true })).filter((f) => f !== ".movescu-ts.journal");
    const files = all.filter((f) => !f.endsWith(".csv"));
    const c = await checkReceived(od, files, e.source);
    assert.deepEqual(c.uids, e.insts.map((i) => i.sop).sort());
    assert.deepEqual(c.differing, []);
    return { files, dumps: all.filter((f) => f.endsWith(".csv")), insts: e.insts };
  } finally {
    await e.pacs.close();
  }
}

test("--layout pacsifier cleans PatientID and SeriesDescription (NFD, non-ASCII dropped, non-alphanumeric runs → _) and pads SeriesNumber", async () => {
  const [s1, s2] = [seriesOf(studies()[0])[0]!, seriesOf(studies()[1])[0]!];
  const {
    files,
    dumps,
    insts: got,
  } = await pacsifierRun([
    {
      series: s1,
      edit: (ds) => {
        ds.set(latin1(Tags.SpecificCharacterSet, "CS", "ISO_IR 100"));
        ds.set(latin1(Tags.PatientID, "LO", "Mc'Doe-12 x"));
        ds.set(latin1(Tags.SeriesDescription, "LO", "Ångström T1/MPR (ax)"));
        ds.set(latin1(Tags.SeriesNumber, "IS", "7"));
      },
    },
    {
      series: s2,
      edit: (ds) => {
        ds.set(latin1(Tags.SeriesDescription, "LO", ""));
        ds.set(latin1(Tags.SeriesNumber, "IS", "1234"));
      },
    },
  ]);
  const ses = (i: Inst) => `ses-${i.head.string(Tags.StudyDate)}${i.head.string(Tags.StudyTime)}`;
  const want = got.map((i) => {
    const f =
      i.series === s1
        ? `sub-Mc_Doe_12_x/${ses(i)}/00007-Angstrom_T1_MPR_ax_`
        : `sub-${i.patient}/${ses(i)}/01234-No_series_description`;
    return `${f}/${PREFIX[i.sopClass]}.${i.sop}`;
  });
  assert.deepEqual(files, want.sort());
  assert.equal(dumps.length, 2);
});

test("--layout pacsifier without StudyTime uses ses-<StudyDate>; without StudyDate the series folder sits directly under sub-<PatientID>", async () => {
  const [s1, s2] = [seriesOf(studies()[0])[0]!, seriesOf(studies()[1])[0]!];
  const { files, insts: got } = await pacsifierRun([
    { series: s1, edit: (ds) => void ds.delete(Tags.StudyTime) },
    {
      series: s2,
      edit: (ds) => {
        ds.delete(Tags.StudyDate);
        ds.delete(Tags.StudyTime);
      },
    },
  ]);
  const folder = (i: Inst) => {
    const num = String(parseInt(i.head.string(Tags.SeriesNumber) ?? "0", 10)).padStart(5, "0");
    const series = `${num}-${pacsifierClean(i.head.string(Tags.SeriesDescription) ?? "")}`;
    return i.series === s1
      ? `sub-${i.patient}/ses-${i.head.string(Tags.StudyDate)}/${series}`
      : `sub-${i.patient}/${series}`;
  };
  assert.deepEqual(files, got.map((i) => `${folder(i)}/${PREFIX[i.sopClass]}.${i.sop}`).sort());
});

test("a custom layout template", async () => {
  const study = studies()[0]!;
  const od = await out("template");
  const r = await move(
    od,
    ["--layout", "{Modality}/{SeriesNumber:03}/{InstanceNumber:04}-{SOPInstanceUID}.dcm"],
    `${JSON.stringify({ QueryRetrieveLevel: "STUDY", StudyInstanceUID: study })}\n`,
  );
  assert.equal(r.code, 0, r.stderr);
  const want = inStudy(study);
  const files = await assertReceived(od, want);
  const pad = (v: string | undefined, n: number) => String(parseInt(v ?? "0", 10)).padStart(n, "0");
  assert.deepEqual(
    files,
    want
      .map(
        (i) =>
          `${i.head.string(Tags.Modality)}/${pad(i.head.string(Tags.SeriesNumber), 3)}/${pad(i.head.string(Tags.InstanceNumber), 4)}-${i.sop}.dcm`,
      )
      .sort(),
  );
});

test("a layout whose names collide never overwrites a different instance", async () => {
  const study = studies().find((s) => seriesOf(s).some((x) => inSeries(x).length > 1))!;
  const od = await out("collide");
  const r = await move(
    od,
    ["--layout", "{SeriesInstanceUID}/image.dcm"],
    `${JSON.stringify({ StudyInstanceUID: study })}\n`,
  );
  assert.equal(r.code, 0, r.stderr);
  const files = await assertReceived(od, inStudy(study));
  for (const series of seriesOf(study))
    assert.equal(
      files.filter((f) => f.startsWith(`${series}/`)).length,
      inSeries(series).length,
      `one file per instance of ${series}`,
    );
});

test("DCMTK style, patient root (-P, the default model) at PATIENT level with -k keys", async () => {
  const patient = insts[0]!.patient;
  const od = await out("patient");
  calls = [];
  const r = await runBin("movescu-ts", [
    "-aec",
    "DEVPACS",
    "+P",
    String(port),
    "-od",
    od,
    "127.0.0.1",
    String(pacs.port),
    "-k",
    "QueryRetrieveLevel=PATIENT",
    "-k",
    `PatientID=${patient}`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  await assertReceived(
    od,
    insts.filter((i) => i.patient === patient),
  );
  assert.deepEqual(
    calls.map((c) => c.level),
    ["PATIENT"],
  );
});

test("a retrieve matching nothing succeeds with nothing received (DCMTK: silent success)", async () => {
  const od = await out("nothing");
  const r = await move(od, [], `${JSON.stringify({ StudyInstanceUID: "1.2.3.4.5.6.7.8.9" })}\n`);
  assert.equal(r.code, 0, r.stderr);
  const [res] = ndjson(r.stdout);
  assert.equal(res!.status, "Success");
  assert.equal(res!.completed, 0);
  assert.equal(res!.files, 0);
  assert.deepEqual(
    (await filesUnder(od, { hidden: true })).filter((f) => f !== ".movescu-ts.journal"),
    [],
  );
});

test("C-GET with getscu-ts (-k keys, DCMTK style): objects on the same association, byte-identical", async () => {
  const series = seriesOf()[0]!;
  const want = inSeries(series);
  const od = await out("get-k");
  calls = [];
  const r = await runBin("getscu-ts", [
    "-S",
    "-aec",
    "DEVPACS",
    "-od",
    od,
    "127.0.0.1",
    String(pacs.port),
    "-k",
    "QueryRetrieveLevel=SERIES",
    "-k",
    `StudyInstanceUID=${want[0]!.study}`,
    "-k",
    `SeriesInstanceUID=${series}`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const files = await assertReceived(od, want);
  assert.deepEqual(files, want.map(dcmtkName).sort());
  assert.deepEqual(
    calls.map((c) => c.level),
    ["SERIES"],
  );
});

test("C-GET with movescu-ts --get, a batch of study records", async () => {
  const picks = studies().slice(0, 2);
  const od = await out("get-batch");
  const r = await runBin(
    "movescu-ts",
    [
      "-S",
      "-aec",
      "DEVPACS",
      "--get",
      "-od",
      od,
      "--layout",
      "hierarchy",
      "127.0.0.1",
      String(pacs.port),
    ],
    { input: `${picks.map((s) => JSON.stringify({ StudyInstanceUID: s })).join("\n")}\n` },
  );
  assert.equal(r.code, 0, r.stderr);
  const want = picks.flatMap(inStudy);
  await assertReceived(od, want);
  const results = ndjson(r.stdout);
  assert.deepEqual(
    results.map((x) => [x.StudyInstanceUID, x.status, x.completed, x.files]).sort(),
    picks.map((s) => [s, "Success", inStudy(s).length, inStudy(s).length]).sort(),
  );
});

test("getscu-ts reads records from stdin too (batch C-GET at SERIES level)", async () => {
  const picks = seriesOf().slice(0, 3);
  const od = await out("get-stdin");
  const r = await runBin(
    "getscu-ts",
    ["-S", "-aec", "DEVPACS", "-od", od, "127.0.0.1", String(pacs.port)],
    {
      input: `${picks
        .map((s) =>
          JSON.stringify({ StudyInstanceUID: inSeries(s)[0]!.study, SeriesInstanceUID: s }),
        )
        .join("\n")}\n`,
    },
  );
  assert.equal(r.code, 0, r.stderr);
  await assertReceived(od, picks.flatMap(inSeries));
});

test("--emit files: one record per received file, besides one per request", async () => {
  const study = studies()[2]!;
  const od = await out("emit");
  const r = await move(
    od,
    ["--emit", "files", "--layout", "hierarchy"],
    `${JSON.stringify({ StudyInstanceUID: study })}\n`,
  );
  assert.equal(r.code, 0, r.stderr);
  const want = inStudy(study);
  const files = await assertReceived(od, want);
  const recs = ndjson(r.stdout);
  const fileRecs = recs.filter((x) => "path" in x);
  const reqRecs = recs.filter((x) => "status" in x);
  assert.equal(reqRecs.length, 1);
  assert.equal(fileRecs.length, want.length);
  assert.deepEqual(
    fileRecs.map((x) => x.path as string).sort(),
    files.map((f) => join(od, f)).sort(),
  );
  for (const x of fileRecs) {
    const m = metaOf(x.path as string);
    assert.equal(x.SOPInstanceUID, m.sopInstanceUid);
    assert.equal(x.SOPClassUID, m.sopClassUid);
    assert.equal(x.StudyInstanceUID, study);
    assert.equal(x.bytes, (await stat(x.path as string)).size);
  }
});

test("an unknown move destination: status Failure (0xA801), exit 69, not journalled", async () => {
  const study = studies()[0]!;
  const od = await out("unknown-dest");
  const r = await move(od, ["-aem", "NOWHERE"], `${JSON.stringify({ StudyInstanceUID: study })}\n`);
  assert.equal(r.code, 69, r.stderr);
  assert.match(r.stderr, /Move response with error status \(Refused: MoveDestinationUnknown\)/);
  const [res] = ndjson(r.stdout);
  assert.equal(res!.status, "Failure");
  assert.equal(res!.statusCode, "0xA801");
  assert.match(String(res!.error), /MoveDestinationUnknown/);
  assert.equal(res!.StudyInstanceUID, study);
  const journal = await readFile(join(od, ".movescu-ts.journal"), "utf8").catch(() => "");
  assert.equal(journal.trim(), "", "a failed request is not recorded as complete");
  assert.deepEqual(await filesUnder(od, { hidden: true }), journal ? [".movescu-ts.journal"] : []);
});

test("completeness: a record announcing more instances than arrive is Incomplete, exit 68, and redone on rerun", async () => {
  const [a, b] = studies();
  const od = await out("incomplete");
  const input = `${[
    {
      QueryRetrieveLevel: "STUDY",
      StudyInstanceUID: a!,
      NumberOfStudyRelatedInstances: inStudy(a!).length + 3,
    },
    {
      QueryRetrieveLevel: "STUDY",
      StudyInstanceUID: b!,
      NumberOfStudyRelatedInstances: inStudy(b!).length,
    },
  ]
    .map((x) => JSON.stringify(x))
    .join("\n")}\n`;
  const r = await move(od, [], input);
  assert.equal(r.code, 68, r.stderr);
  const res = ndjson(r.stdout);
  const ra = res.find((x) => x.StudyInstanceUID === a)!;
  const rb = res.find((x) => x.StudyInstanceUID === b)!;
  assert.equal(ra.status, "Incomplete");
  assert.equal(ra.files, inStudy(a!).length);
  assert.ok(ra.error, "the shortfall is explained");
  assert.equal(rb.status, "Success");
  await assertReceived(od, [...inStudy(a!), ...inStudy(b!)]);
  calls = [];
  const again = await move(od, [], input);
  assert.equal(again.code, 68);
  assert.deepEqual(
    calls.map((c) => c.study),
    [a],
    "the incomplete request is redone, the complete one is not",
  );
});

test("-j 2 gives the same files as -j 1", async () => {
  const f = await find([
    "-k",
    "QueryRetrieveLevel=SERIES",
    "-k",
    "StudyInstanceUID",
    "-k",
    "SeriesInstanceUID",
  ]);
  assert.equal(f.code, 0);
  const od1 = await out("j1");
  const od2 = await out("j2");
  const r1 = await move(od1, ["-j", "1", "--layout", "pacsifier", "--info"], f.stdout);
  const r2 = await move(od2, ["-j", "2", "--layout", "pacsifier", "--info"], f.stdout);
  assert.equal(r1.code, 0, r1.stderr);
  assert.equal(r2.code, 0, r2.stderr);
  const l1 = (await filesUnder(od1, { hidden: true })).filter((x) => x !== ".movescu-ts.journal");
  const l2 = (await filesUnder(od2, { hidden: true })).filter((x) => x !== ".movescu-ts.journal");
  assert.deepEqual(l2, l1);
  await assertReceived(
    od2,
    insts,
    l2.filter((x) => !x.endsWith(".csv")),
  );
  for (const x of l1)
    assert.ok((await readFile(join(od1, x))).equals(await readFile(join(od2, x))), x);
  const res2 = ndjson(r2.stdout);
  assert.equal(res2.length, seriesOf().length);
  assert.ok(
    res2.every(
      (x) => x.status === "Success" && x.files === inSeries(x.SeriesInstanceUID as string).length,
    ),
    "each request counts its own files",
  );
});

test("many jobs (-j 25): every request has a message ID of its own, so each counts its own files", async () => {
  const f = await find([
    "-k",
    "QueryRetrieveLevel=IMAGE",
    "-k",
    "StudyInstanceUID",
    "-k",
    "SeriesInstanceUID",
    "-k",
    "SOPInstanceUID",
  ]);
  assert.equal(f.code, 0, f.stderr);
  // More than 16 associations at once (16 x 4096 message IDs fill the 16-bit range).
  const jobs = Math.min(32, insts.length);
  assert.ok(jobs > 16);
  const od = await out("many-jobs");
  const r = await move(od, ["-j", String(jobs), "--no-journal"], f.stdout);
  assert.equal(r.code, 0, r.stderr);
  await assertReceived(od, insts);
  const res = ndjson(r.stdout);
  assert.equal(res.length, insts.length);
  assert.deepEqual(
    res
      .filter((x) => x.status !== "Success" || x.files !== 1)
      .map((x) => `${x.SOPInstanceUID}: ${x.status} ${x.files}`),
    [],
  );
});

test("third-party batch moves of the same records to two destinations from one directory both happen", {}, async () => {
  const [a, b] = [await out("dest-a"), await out("dest-b")];
  const [pa, pb] = [
    await startDevPacs({ dir: a, aet: "DEST_A" }),
    await startDevPacs({ dir: b, aet: "DEST_B" }),
  ];
  const hub = await startDevPacs({
    dir: archive,
    moveDestinations: {
      DEST_A: { host: "127.0.0.1", port: pa.port },
      DEST_B: { host: "127.0.0.1", port: pb.port },
    },
  });
  try {
    const picks = studies().slice(0, 2);
    const want = picks
      .flatMap(inStudy)
      .map((i) => i.sop)
      .sort();
    const input = `${picks.map((s) => JSON.stringify({ StudyInstanceUID: s })).join("\n")}\n`;
    const cwd = await out("third-party-cwd");
    for (const [dest, p] of [
      ["DEST_A", pa],
      ["DEST_B", pb],
    ] as const) {
      const r = await runBin("movescu-ts", ["-S", "-aem", dest, "127.0.0.1", String(hub.port)], {
        input,
        cwd,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(
        [...p.archive.instances.keys()].sort(),
        want,
        `${dest} received the studies`,
      );
    }
  } finally {
    await hub.close();
    await pa.close();
    await pb.close();
  }
});

/** Gaps (s) between consecutive C-MOVE requests at the archive. */
const gaps = () => calls.slice(1).map((c, i) => (c.t - calls[i]!.t) / 1000);

test("--throttle pauses between requests", async () => {
  const picks = seriesOf().slice(0, 4);
  const input = `${picks
    .map((s) => JSON.stringify({ StudyInstanceUID: inSeries(s)[0]!.study, SeriesInstanceUID: s }))
    .join("\n")}\n`;
  calls = [];
  let r = await move(await out("nothrottle"), [], input);
  assert.equal(r.code, 0, r.stderr);
  const base = gaps();
  calls = [];
  r = await move(await out("throttle"), ["--throttle", "0.25"], input);
  assert.equal(r.code, 0, r.stderr);
  const paced = gaps();
  assert.equal(paced.length, 3);
  assert.ok(Math.min(...paced) >= 0.24, `gaps with --throttle 0.25: ${paced.join(", ")}`);
  assert.ok(
    Math.max(...base) < Math.min(...paced),
    `unthrottled gaps ${base.join(", ")} are shorter`,
  );
});

test("--batch-size/--batch-wait pause after every N requests", async () => {
  const picks = seriesOf().slice(0, 6);
  const input = `${picks
    .map((s) => JSON.stringify({ StudyInstanceUID: inSeries(s)[0]!.study, SeriesInstanceUID: s }))
    .join("\n")}\n`;
  calls = [];
  const r = await move(await out("batch"), ["--batch-size", "2", "--batch-wait", "0.3"], input);
  assert.equal(r.code, 0, r.stderr);
  const g = gaps();
  assert.equal(g.length, 5);
  // Pauses before requests 3 and 5.
  assert.ok(g[1]! >= 0.29 && g[3]! >= 0.29, `gaps: ${g.join(", ")}`);
  assert.ok(
    Math.max(g[0]!, g[2]!, g[4]!) < Math.min(g[1]!, g[3]!),
    `only at batch boundaries: ${g.join(", ")}`,
  );
});

test("--window outside the current time: logs the wait, connects to nobody, stops on SIGINT (130)", async () => {
  let connections = 0;
  const peer = net.createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((resolve) => peer.listen(0, "127.0.0.1", resolve));
  const peerPort = (peer.address() as net.AddressInfo).port;
  try {
    const now = new Date();
    const m = now.getUTCHours() * 60 + now.getUTCMinutes();
    const hhmm = (x: number) =>
      `${String(Math.floor((x % 1440) / 60)).padStart(2, "0")}:${String(x % 60).padStart(2, "0")}`;
    const window = `${hhmm(m + 120)}-${hhmm(m + 180)}`;
    const od = await out("window");
    const p = startBin(
      "movescu-ts",
      [
        "-S",
        "-v",
        "+P",
        String(port),
        "-od",
        od,
        "--window",
        window,
        "--tz",
        "UTC",
        "127.0.0.1",
        String(peerPort),
      ],
      { input: `${JSON.stringify({ StudyInstanceUID: studies()[0] })}\n` },
    );
    const logged = await until(
      () => /outside the time window; waiting until/.test(p.err()),
      10000,
      20,
    );
    assert.ok(logged, `logs the wait: ${p.err()}`);
    assert.match(p.err(), new RegExp(`waiting until ${hhmm(m + 120)} \\(UTC\\)`));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(p.child.exitCode, null, "still waiting");
    p.child.kill("SIGINT");
    const r = await p.done;
    assert.equal(r.code, 130);
    assert.equal(connections, 0, "no association while outside the window");
    assert.deepEqual(
      (await filesUnder(od, { hidden: true })).filter((f) => f !== ".movescu-ts.journal"),
      [],
    );
  } finally {
    peer.close();
  }
});

test("the +P listener takes -pdu and -ta, as DCMTK movescu's sub-associations do", async () => {
  const now = new Date();
  const m = now.getUTCHours() * 60 + now.getUTCMinutes();
  const hhmm = (x: number) =>
    `${String(Math.floor((x % 1440) / 60)).padStart(2, "0")}:${String(x % 60).padStart(2, "0")}`;
  const od = await out("listener");
  const rport = await freePort();
  // Outside the window: the listener is up while no request is sent.
  const p = startBin(
    "movescu-ts",
    [
      "-S",
      "-v",
      "+P",
      String(rport),
      "-pdu",
      "16384",
      "-ta",
      "1",
      "-od",
      od,
      "--window",
      `${hhmm(m + 120)}-${hhmm(m + 180)}`,
      "--tz",
      "UTC",
      "127.0.0.1",
      String(pacs.port),
    ],
    { input: `${JSON.stringify({ StudyInstanceUID: studies()[0] })}\n` },
  );
  try {
    assert.ok(await until(() => /outside the time window/.test(p.err()), 10000, 20), p.err());
    const assoc = await connect({
      host: "127.0.0.1",
      port: rport,
      callingAet: "DEVPACS",
      calledAet: "MOVESCU",
      contexts: [
        { abstractSyntax: "1.2.840.10008.1.1", transferSyntaxes: ["1.2.840.10008.1.2.1"] },
      ],
    });
    assert.equal(assoc.peerMaxPdu, 16384, "-pdu is the sub-associations' receive limit");
    await assoc.release();
    const silent = net.connect(rport, "127.0.0.1");
    silent.on("error", () => undefined);
    const t0 = Date.now();
    await new Promise((r) => silent.once("close", r));
    assert.ok(
      Date.now() - t0 < 5000,
      `a connection without A-ASSOCIATE-RQ is closed after -ta (${Date.now() - t0} ms)`,
    );
  } finally {
    p.child.kill("SIGINT");
    await p.done;
  }
});

/** One CSV row (RFC 4180 quoting). */
function parseCsvRow(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (q) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') q = false;
      else cur += ch;
    } else if (ch === '"') q = true;
    else if (ch === ",") {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}
