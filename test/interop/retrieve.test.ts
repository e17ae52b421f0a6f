/**
 * movescu-ts / getscu-ts against real archives (DCMTK dcmqrscp and
 * Orthanc): C-MOVE to self at study, series and image level, third-party
 * C-MOVE into a DCMTK storescp, C-GET; checked against the archive files
 * (SOP Instance UIDs, dataset bytes) and against DCMTK movescu / getscu
 * run with the same keys (same files received). Failure cases: unknown
 * move destination, the archive aborting mid-transfer, a rejected
 * association.
 */
import { before, after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateArchive } from "@dicom-pipes/gen-archive";
import {
  freePort,
  hasDcmtk,
  hasOrthanc,
  runDcmtk,
  startDcmqrscp,
  startOrthanc,
  startStorescp,
  type DcmqrscpPeer,
  type OrthancPeer,
  type StorescpPeer,
} from "@dicom-pipes/test-support/peers";
import { runBin, ndjson, startBin, until } from "@dicom-pipes/test-support/bins";
import { filesUnder } from "@dicom-pipes/test-support/files";
import {
  checkReceived,
  childPids,
  pidsByCmdline,
  sourceInstances,
  type SourceInstance,
} from "@dicom-pipes/test-support/retrieve";

const skip =
  !hasDcmtk() || !hasOrthanc()
    ? "DCMTK and Orthanc are required (apt-get install dcmtk orthanc)"
    : false;
const JOURNAL = ".movescu-ts.journal";

let work: string;
let archive: string;
let source: Map<string, SourceInstance>;
let qr: DcmqrscpPeer;
let orthanc: OrthancPeer;
let third: StorescpPeer;
/** movescu-ts's +P port (move destination MOVESCU) and DCMTK movescu's (DCMTKMOVE). */
let ours: number;
let theirs: number;

interface Inst {
  sop: string;
  study: string;
  series: string;
}
let insts: Inst[] = [];

before(async () => {
  if (skip) return;
  work = await mkdtemp(join(tmpdir(), "retrieve-interop-"));
  archive = join(work, "archive");
  await generateArchive({
    out: archive,
    patients: 3,
    seed: "interop-retrieve",
    studiesPerPatient: [1, 2],
    seriesPerStudy: [1, 3],
    instancesPerSeries: [1, 3],
    rows: 16,
    cols: 16,
  });
  source = await sourceInstances(archive);
  // gen-archive's hierarchy: PatientID/StudyInstanceUID/SeriesInstanceUID/SOPInstanceUID.dcm
  insts = [...source.values()].map((s) => {
    const parts = s.path.slice(archive.length + 1).split("/");
    return { sop: s.sopInstanceUid, study: parts[1]!, series: parts[2]! };
  });
  assert.ok(insts.every((i) => i.study.startsWith("2.25.") && i.series.startsWith("2.25.")));
  ours = await freePort();
  theirs = await freePort();
  third = await startStorescp({ aet: "STORESCP" });
  const dests = [
    { name: "ours", aet: "MOVESCU", port: ours },
    { name: "dcmtk", aet: "DCMTKMOVE", port: theirs },
    { name: "third", aet: "STORESCP", port: third.port },
  ];
  [qr, orthanc] = await Promise.all([
    startDcmqrscp({ files: [archive], hostTable: dests }),
    startOrthanc({
      files: [archive],
      modalities: Object.fromEntries(dests.map((d) => [d.name, { aet: d.aet, port: d.port }])),
    }),
  ]);
});

after(async () => {
  await qr?.stop();
  await orthanc?.stop();
  await third?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const uniq = <T>(xs: T[]): T[] => [...new Set(xs)];
const studies = () => uniq(insts.map((i) => i.study)).sort();
const seriesOf = (study: string) =>
  uniq(insts.filter((i) => i.study === study).map((i) => i.series)).sort();
const inStudy = (s: string) => insts.filter((i) => i.study === s);
const inSeries = (s: string) => insts.filter((i) => i.series === s);
const dir = (name: string) => mkdtemp(join(work, `${name}-`));

/** Files received under od (not the journal), checked against the archive: exactly `want`, byte-identical. */
async function assertReceived(od: string, want: Inst[]): Promise<string[]> {
  const files = (await filesUnder(od, { hidden: true })).filter((f) => f !== JOURNAL);
  assert.deepEqual(
    files.filter((f) => /(^|\/)\.|\.part$/.test(f)),
    [],
    "no temporary files",
  );
  const c = await checkReceived(od, files, source);
  assert.deepEqual(c.unknown, [], "only archive instances");
  assert.deepEqual(c.duplicates, []);
  assert.deepEqual(c.differing, [], "datasets byte-identical to the source");
  assert.deepEqual(c.uids, want.map((i) => i.sop).sort(), "SOP Instance UIDs = the source's");
  return files;
}

/** A DICOM query file (dump2dcm) with these keys. */
async function queryFile(name: string, keys: Record<string, string>): Promise<string> {
  const tags: Record<string, string> = {
    QueryRetrieveLevel: "(0008,0052) CS",
    StudyInstanceUID: "(0020,000d) UI",
    SeriesInstanceUID: "(0020,000e) UI",
    SOPInstanceUID: "(0008,0018) UI",
    PatientID: "(0010,0020) LO",
  };
  const txt = join(work, `${name}.txt`);
  const dcm = join(work, `${name}.dcm`);
  await writeFile(
    txt,
    `${Object.entries(keys)
      .map(([k, v]) => `${tags[k]} [${v}]`)
      .join("\n")}\n`,
  );
  const r = await runDcmtk("dump2dcm", [txt, dcm]);
  assert.equal(r.code, 0, r.stderr);
  return dcm;
}

type Peer = { name: string; port: () => number; aet: () => string };
const peers: Peer[] = [
  { name: "dcmqrscp", port: () => qr.port, aet: () => qr.aet },
  { name: "Orthanc", port: () => orthanc.port, aet: () => orthanc.aet },
];

for (const peer of peers) {
  describe(`movescu-ts / getscu-ts against ${peer.name}`, { skip }, () => {
    const at = () => ["-aec", peer.aet(), "127.0.0.1", String(peer.port())];
    const move = (od: string, extra: string[], input?: string) =>
      runBin("movescu-ts", ["-S", "+P", String(ours), "-od", od, ...extra, ...at()], { input });
    const dcmtkMove = (od: string, extra: string[]) =>
      runDcmtk(
        "movescu",
        ["-S", "-aem", "DCMTKMOVE", "+P", String(theirs), "-od", od, ...at(), ...extra],
        { timeoutMs: 60000 },
      );
    /** DCMTK movescu and movescu-ts given the same query (-k keys or query files): both receive exactly `want`, under the same file names. */
    const sameAsDcmtkMove = async (name: string, query: string[], want: Inst[]) => {
      const a = await dir(`${peer.name}-${name}-dcmtk`);
      const b = await dir(`${peer.name}-${name}-ours`);
      const ref = await dcmtkMove(a, query);
      assert.equal(ref.code, 0, ref.stderr);
      const mine = await runBin("movescu-ts", [
        "-S",
        "+P",
        String(ours),
        "-od",
        b,
        ...at(),
        ...query,
      ]);
      assert.equal(mine.code, 0, mine.stderr);
      assert.deepEqual(
        await assertReceived(b, want),
        await assertReceived(a, want),
        "same file names as DCMTK movescu",
      );
    };

    test("STUDY level: findscu-ts records piped in, every instance received; same files as DCMTK movescu with the same query files", async () => {
      const f = await runBin("findscu-ts", [
        "-S",
        ...at(),
        "-k",
        "QueryRetrieveLevel=STUDY",
        "-k",
        "StudyInstanceUID",
        "-k",
        "PatientID",
      ]);
      assert.equal(f.code, 0, f.stderr);
      assert.equal(ndjson(f.stdout).length, studies().length);
      const od = await dir(`${peer.name}-study`);
      const r = await move(od, [], f.stdout);
      assert.equal(r.code, 0, r.stderr);
      await assertReceived(od, insts);
      const results = ndjson(r.stdout);
      assert.deepEqual(
        results.map((x) => [x.StudyInstanceUID, x.status, x.completed, x.files]).sort(),
        studies()
          .map((s) => [s, "Success", inStudy(s).length, inStudy(s).length])
          .sort(),
      );
      // DCMTK movescu, two query files = two C-MOVEs; movescu-ts given the same files.
      const picks = studies().slice(0, 2);
      const q = await Promise.all(
        picks.map((s, n) =>
          queryFile(`${peer.name}-study-q${n}`, {
            QueryRetrieveLevel: "STUDY",
            StudyInstanceUID: s,
          }),
        ),
      );
      await sameAsDcmtkMove("study-q", q, picks.flatMap(inStudy));
    });

    test("SERIES level: findscu-ts records, --layout hierarchy; same files as DCMTK movescu -k", async () => {
      const study = studies().find((s) => seriesOf(s).length > 1) ?? studies()[0]!;
      const f = await runBin("findscu-ts", [
        "-S",
        ...at(),
        "-k",
        "QueryRetrieveLevel=SERIES",
        "-k",
        `StudyInstanceUID=${study}`,
        "-k",
        "SeriesInstanceUID",
      ]);
      assert.equal(f.code, 0, f.stderr);
      const od = await dir(`${peer.name}-series`);
      const r = await move(od, ["--layout", "hierarchy"], f.stdout);
      assert.equal(r.code, 0, r.stderr);
      const files = await assertReceived(od, inStudy(study));
      assert.ok(
        files.every((x) => x.split("/")[1] === study && seriesOf(study).includes(x.split("/")[2]!)),
        "hierarchy layout",
      );
      assert.equal(ndjson(r.stdout).length, seriesOf(study).length);
      const series = seriesOf(study)[0]!;
      await sameAsDcmtkMove(
        "series-k",
        [
          "-k",
          "QueryRetrieveLevel=SERIES",
          "-k",
          `StudyInstanceUID=${study}`,
          "-k",
          `SeriesInstanceUID=${series}`,
        ],
        inSeries(series),
      );
    });

    test("IMAGE level: a CSV of UIDs with --input; same file as DCMTK movescu -k", async () => {
      const picks = studies().map((s) => inStudy(s)[0]!);
      const csv = join(work, `${peer.name}-images.csv`);
      await writeFile(
        csv,
        `${[
          "StudyInstanceUID,SeriesInstanceUID,SOPInstanceUID",
          ...picks.map((i) => `${i.study},${i.series},${i.sop}`),
        ].join("\n")}\n`,
      );
      const od = await dir(`${peer.name}-image`);
      const r = await move(od, ["--input", csv]);
      assert.equal(r.code, 0, r.stderr);
      await assertReceived(od, picks);
      assert.ok(
        ndjson(r.stdout).every((x) => x.status === "Success" && x.completed === 1 && x.files === 1),
      );
      const i = picks[0]!;
      await sameAsDcmtkMove(
        "image-k",
        [
          "-k",
          "QueryRetrieveLevel=IMAGE",
          "-k",
          `StudyInstanceUID=${i.study}`,
          "-k",
          `SeriesInstanceUID=${i.series}`,
          "-k",
          `SOPInstanceUID=${i.sop}`,
        ],
        [i],
      );
    });

    test("-j 2: two associations, every request counts exactly its own objects", async () => {
      const input = `${studies()
        .flatMap((s) =>
          seriesOf(s).map((x) => JSON.stringify({ StudyInstanceUID: s, SeriesInstanceUID: x })),
        )
        .join("\n")}\n`;
      const od = await dir(`${peer.name}-j2`);
      const r = await move(od, ["-j", "2"], input);
      assert.equal(r.code, 0, r.stderr);
      await assertReceived(od, insts);
      const results = ndjson(r.stdout);
      assert.equal(results.length, uniq(insts.map((i) => i.series)).length);
      for (const x of results)
        assert.deepEqual(
          [x.status, x.completed, x.files],
          [
            "Success",
            inSeries(x.SeriesInstanceUID as string).length,
            inSeries(x.SeriesInstanceUID as string).length,
          ],
          String(x.SeriesInstanceUID),
        );
    });

    test("third-party C-MOVE (no +P) into a DCMTK storescp", async () => {
      for (const f of await readdir(third.dir))
        await rm(join(third.dir, f), { recursive: true, force: true });
      const picks = studies().slice(0, 2);
      const r = await runBin("movescu-ts", ["-S", "-aem", "STORESCP", ...at()], {
        input: `${picks.map((s) => JSON.stringify({ StudyInstanceUID: s })).join("\n")}\n`,
        cwd: await dir(`${peer.name}-third-cwd`),
      });
      assert.equal(r.code, 0, r.stderr);
      const want = picks.flatMap(inStudy);
      const results = ndjson(r.stdout);
      assert.deepEqual(
        results.map((x) => [x.StudyInstanceUID, x.status, x.completed, x.failed]).sort(),
        picks.map((s) => [s, "Success", inStudy(s).length, 0]).sort(),
      );
      assert.ok(
        await until(async () => (await readdir(third.dir)).length >= want.length, 10000, 20),
        "storescp received the objects",
      );
      await assertReceived(third.dir, want);
    });

    test("C-GET: getscu-ts -k and movescu-ts --get with records; same files as DCMTK getscu", async () => {
      const study = studies()[studies().length - 1]!;
      const keys = ["-k", "QueryRetrieveLevel=STUDY", "-k", `StudyInstanceUID=${study}`];
      const a = await dir(`${peer.name}-get-dcmtk`);
      const b = await dir(`${peer.name}-get-k`);
      const ref = await runDcmtk("getscu", ["-S", "-od", a, ...at(), ...keys], {
        timeoutMs: 60000,
      });
      assert.equal(ref.code, 0, ref.stderr);
      const mine = await runBin("getscu-ts", ["-S", "-od", b, ...at(), ...keys]);
      assert.equal(mine.code, 0, mine.stderr);
      assert.deepEqual(
        await assertReceived(b, inStudy(study)),
        await assertReceived(a, inStudy(study)),
        "same file names as DCMTK getscu",
      );
      // Series records, C-GET through movescu-ts --get.
      const c = await dir(`${peer.name}-get-batch`);
      const input = `${studies()
        .flatMap((s) =>
          seriesOf(s).map((x) => JSON.stringify({ StudyInstanceUID: s, SeriesInstanceUID: x })),
        )
        .join("\n")}\n`;
      const r = await runBin("movescu-ts", ["-S", "--get", "-od", c, ...at()], { input });
      assert.equal(r.code, 0, r.stderr);
      await assertReceived(c, insts);
      assert.ok(
        ndjson(r.stdout).every(
          (x) =>
            x.status === "Success" && x.files === inSeries(x.SeriesInstanceUID as string).length,
        ),
      );
    });

    test("an unknown move destination: exit 69 (as DCMTK movescu), a clear error, nothing journalled", async () => {
      const study = studies()[0]!;
      const keys = ["-k", "QueryRetrieveLevel=STUDY", "-k", `StudyInstanceUID=${study}`];
      const ref = await runDcmtk("movescu", ["-S", "-aem", "NOWHERE", ...at(), ...keys], {
        timeoutMs: 60000,
      });
      assert.equal(ref.code, 69, ref.stderr);
      const single = await runBin("movescu-ts", ["-S", "-aem", "NOWHERE", ...at(), ...keys]);
      assert.equal(single.code, 69, single.stderr);
      assert.match(
        single.stderr,
        /Move response with error status \((Refused: MoveDestinationUnknown|Failed: UnableToProcess)\)/,
      );
      const od = await dir(`${peer.name}-unknown`);
      const r = await runBin(
        "movescu-ts",
        ["-S", "-aem", "NOWHERE", "+P", String(ours), "-od", od, ...at()],
        { input: `${JSON.stringify({ StudyInstanceUID: study })}\n` },
      );
      assert.equal(r.code, 69, r.stderr);
      const [res] = ndjson(r.stdout);
      assert.equal(res!.status, "Failure");
      assert.ok(res!.error, "the result names the error");
      assert.equal((await readFile(join(od, JOURNAL), "utf8").catch(() => "")).trim(), "");
      assert.deepEqual(
        (await filesUnder(od, { hidden: true })).filter((f) => f !== JOURNAL),
        [],
      );
    });

    if (peer.name === "dcmqrscp") {
      test("a rejected association (unknown called AE): exit 61, as DCMTK movescu", async () => {
        const keys = ["-k", "QueryRetrieveLevel=STUDY", "-k", `StudyInstanceUID=${studies()[0]}`];
        const args = ["-S", "-aec", "WRONGAE", "127.0.0.1", String(qr.port), ...keys];
        const ref = await runDcmtk("movescu", args, { timeoutMs: 30000 });
        assert.equal(ref.code, 61, ref.stderr);
        const mine = await runBin("movescu-ts", args);
        assert.equal(mine.code, 61, mine.stderr);
        assert.match(mine.stderr, /Association Rejected/);
        const get = await runBin("getscu-ts", [
          "-S",
          "-aec",
          "WRONGAE",
          "-od",
          await dir("rejected-get"),
          "127.0.0.1",
          String(qr.port),
          ...keys,
        ]);
        assert.equal(get.code, 61, get.stderr);
      });
    }
  });
}

describe("the archive aborting mid-transfer", { skip }, () => {
  let big: string;
  let bigSource: Map<string, SourceInstance>;
  let study: string;

  before(async () => {
    if (skip) return;
    // 60 instances of 512 × 512 × 16 bit (~0.5 MB each): long enough to cut.
    big = join(work, "big");
    await generateArchive({
      out: big,
      patients: 1,
      seed: "interop-abort",
      studiesPerPatient: 1,
      seriesPerStudy: 1,
      instancesPerSeries: 60,
      rows: 512,
      cols: 512,
      bits: 16,
    });
    bigSource = await sourceInstances(big);
    study = [...bigSource.values()][0]!.path.slice(big.length + 1).split("/")[1]!;
  });

  /** Start a batch retrieve of the big study, call `cut` once the first file is in, and check the outcome. */
  async function cutMidway(
    port: number,
    aet: string,
    movePort: number,
    cut: () => Promise<void>,
  ): Promise<void> {
    const od = await dir("abort");
    const p = startBin(
      "movescu-ts",
      [
        "-S",
        "-aec",
        aet,
        "+P",
        String(movePort),
        "-od",
        od,
        "--dimse-timeout",
        "10",
        "127.0.0.1",
        String(port),
      ],
      { input: `${JSON.stringify({ StudyInstanceUID: study })}\n` },
    );
    const started = await until(
      async () =>
        (await filesUnder(od, { hidden: true })).some((f) => !f.startsWith(".")) ||
        p.child.exitCode !== null,
      30000,
      2,
    );
    assert.ok(started && p.child.exitCode === null, `the transfer started: ${p.err()}`);
    await cut();
    const r = await p.done;
    const files = (await filesUnder(od, { hidden: true })).filter((f) => f !== JOURNAL);
    assert.ok(
      files.length < bigSource.size,
      `the transfer was cut (${files.length} of ${bigSource.size})`,
    );
    assert.notEqual(r.code, 0, "non-zero exit");
    assert.ok(r.code === 1 || r.code === 68 || r.code === 69, `exit ${r.code}`);
    assert.match(r.stderr, /(Peer aborted|abort|Failed|closed|reset)/i, "a clear error");
    const [res] = ndjson(r.stdout);
    assert.ok(res, "a result record");
    assert.notEqual(res!.status, "Success");
    assert.ok(res!.error, `the result names the error: ${JSON.stringify(res)}`);
    assert.equal(
      (await readFile(join(od, JOURNAL), "utf8").catch(() => "")).trim(),
      "",
      "the aborted request is not journalled",
    );
    // What did arrive is complete and intact, nothing partial is left.
    assert.deepEqual(
      files.filter((f) => /(^|\/)\.|\.part$/.test(f)),
      [],
    );
    const c = await checkReceived(od, files, bigSource);
    assert.deepEqual(c.unknown, []);
    assert.deepEqual(c.differing, []);
  }

  test("dcmqrscp: its association process killed during a C-MOVE", async () => {
    const movePort = await freePort();
    const peer = await startDcmqrscp({
      files: [big],
      hostTable: [{ name: "ours", aet: "MOVESCU", port: movePort }],
    });
    try {
      const [main] = await pidsByCmdline(join(peer.dir, "dcmqrscp.cfg"));
      assert.ok(main, "dcmqrscp's process");
      await cutMidway(peer.port, peer.aet, movePort, async () => {
        const kids = await childPids(main!);
        assert.ok(kids.length > 0, "dcmqrscp forked a process for the association");
        for (const k of kids) process.kill(k, "SIGKILL");
      });
    } finally {
      await peer.stop();
    }
  });

  test("Orthanc: stopped during a C-MOVE", async () => {
    const movePort = await freePort();
    const peer = await startOrthanc({
      files: [big],
      modalities: { ours: { aet: "MOVESCU", port: movePort } },
    });
    try {
      await cutMidway(peer.port, peer.aet, movePort, () => peer.stop());
    } finally {
      await peer.stop();
    }
  });
});

test("peers available", { skip }, () => {
  assert.ok(insts.length > 10);
});
