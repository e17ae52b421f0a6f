/**
 * findscu-ts query keys against real archives (DCMTK dcmqrscp and
 * Orthanc), checked against DCMTK findscu on the same data:
 * --split-dates over a range of several years sends only ranges both
 * archives accept and finds what one unsplit findscu query finds; study
 * records fed as series queries are answered by the strict dcmqrscp and
 * find what per-study findscu series queries find.
 */
import { before, after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateArchive } from "@dicom-pipes/gen-archive";
import {
  dumpValue,
  hasDcmtk,
  hasOrthanc,
  runDcmtk,
  startDcmqrscp,
  startOrthanc,
  type DcmqrscpPeer,
  type OrthancPeer,
} from "@dicom-pipes/test-support/peers";
import { runBin, ndjson } from "@dicom-pipes/test-support/bins";

const skip =
  !hasDcmtk() || !hasOrthanc()
    ? "DCMTK and Orthanc are required (apt-get install dcmtk orthanc)"
    : false;

let work: string;
let qr: DcmqrscpPeer;
let orthanc: OrthancPeer;

before(async () => {
  if (skip) return;
  work = await mkdtemp(join(tmpdir(), "query-keys-interop-"));
  const archive = join(work, "archive");
  // Studies spread over three years, so that splits cross year boundaries.
  await generateArchive({
    out: archive,
    patients: 10,
    seed: "interop-keys",
    studiesPerPatient: [1, 3],
    seriesPerStudy: [1, 3],
    instancesPerSeries: 1,
    rows: 8,
    cols: 8,
    startDate: "20230101",
    endDate: "20251231",
  });
  [qr, orthanc] = await Promise.all([
    startDcmqrscp({ files: [archive] }),
    startOrthanc({ files: [archive] }),
  ]);
});

after(async () => {
  await qr?.stop();
  await orthanc?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const peers = [
  { name: "dcmqrscp", port: () => qr.port, aet: () => qr.aet },
  { name: "Orthanc", port: () => orthanc.port, aet: () => orthanc.aet },
];

/** DCMTK's dump, one block per response. */
const blocks = (stderr: string) => stderr.split("I: ---------------------------\n").slice(1);

for (const peer of peers) {
  describe(`query keys against ${peer.name}`, { skip }, () => {
    const at = () => ["-S", "-aec", peer.aet(), "127.0.0.1", String(peer.port())];

    test("--split-dates over three years finds what one findscu query finds, each study once", async () => {
      const keys = [
        "-k",
        "QueryRetrieveLevel=STUDY",
        "-k",
        "StudyInstanceUID",
        "-k",
        "StudyDate=20230101-20251231",
      ];
      const ref = await runDcmtk("findscu", [...at(), ...keys]);
      assert.equal(ref.code, 0, ref.stderr);
      const want = blocks(ref.stderr)
        .map((b) => dumpValue(b, "0020,000d"))
        .sort();
      assert.ok(want.length >= 10, `the archive holds studies (${want.length})`);
      const ours = await runBin("findscu-ts", [
        ...at(),
        ...keys,
        "-sr",
        "-v",
        "--split-dates",
        "--max-results",
        "4",
      ]);
      assert.equal(ours.code, 0, ours.stderr);
      assert.deepEqual(
        ndjson(ours.stdout)
          .map((r) => r.StudyInstanceUID as string)
          .sort(),
        want,
      );
      const splits = [...ours.stderr.matchAll(/splitting at (\d+)/g)].length;
      assert.ok(splits >= 3, `the range was split (${splits} times)`);
      assert.doesNotMatch(ours.stderr, /^[EW]: /m);
    });

    test("a range of years is refused before any association", async () => {
      const ours = await runBin("findscu-ts", [
        ...at(),
        "-k",
        "QueryRetrieveLevel=STUDY",
        "-k",
        "StudyInstanceUID",
        "-k",
        "StudyDate=2023-2025",
        "--split-dates",
        "--max-results",
        "4",
      ]);
      assert.equal(ours.code, 2);
      assert.match(ours.stderr, /write 20230101-20251231/);
    });

    test("study records as series queries: the series findscu finds study by study", async () => {
      const studies = await runBin("findscu-ts", [
        ...at(),
        "-sr",
        "-k",
        "QueryRetrieveLevel=STUDY",
        "-k",
        "StudyInstanceUID",
        "-k",
        "AccessionNumber",
        "-k",
        "StudyDate",
        "-k",
        "ModalitiesInStudy",
        "-k",
        "PatientID",
      ]);
      assert.equal(studies.code, 0, studies.stderr);
      const records = ndjson(studies.stdout).slice(0, 4);
      assert.ok(records.length > 0);
      const want: string[] = [];
      for (const r of records) {
        const ref = await runDcmtk("findscu", [
          ...at(),
          "-k",
          "QueryRetrieveLevel=SERIES",
          "-k",
          `StudyInstanceUID=${r.StudyInstanceUID as string}`,
          "-k",
          "SeriesInstanceUID",
        ]);
        assert.equal(ref.code, 0, ref.stderr);
        for (const b of blocks(ref.stderr)) want.push(dumpValue(b, "0020,000e")!);
      }
      const input = `${records.map((r) => JSON.stringify(r)).join("\n")}\n`;
      const ours = await runBin(
        "findscu-ts",
        [...at(), "-sr", "-k", "QueryRetrieveLevel=SERIES", "-k", "SeriesInstanceUID", "-"],
        { input },
      );
      assert.equal(ours.code, 0, ours.stderr);
      assert.equal(ours.stderr, "");
      assert.deepEqual(
        ndjson(ours.stdout)
          .map((r) => r.SeriesInstanceUID as string)
          .sort(),
        want.sort(),
      );
    });
  });
}
