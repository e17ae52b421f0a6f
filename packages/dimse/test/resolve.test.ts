/**
 * Filter rows (records/resolve.ts): which keys make a row a filter, the
 * levels queried and the identifiers of each step (PS3.4 C.6.2.1 Study
 * Root and C.6.1.1 Patient Root key tables), and the matches kept. The
 * C-FIND here is a table of answers written in the test; the network side
 * is tested against devpacs, dcmqrscp and Orthanc (movescu-ts tests).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Dataset, Tags } from "../src/dicom/index.js";
import {
  datasetToFlat,
  MatchError,
  resolveMatches,
  resolvePlan,
  stepIdentifier,
} from "../src/records/index.js";

test("which rows are filters: keys below the deepest UID given, with a value", () => {
  const p = resolvePlan({ PatientID: "P1", StudyDate: "20240131" }, undefined, "study")!;
  assert.equal(p.level, "STUDY");
  assert.deepEqual(p.steps, ["STUDY"]);
  assert.deepEqual(
    p.filters.map((f) => f.keyword),
    ["StudyDate"],
  );
  // A findscu-ts study record: its StudyDate is implied by its UID.
  assert.equal(
    resolvePlan(
      {
        query: 1,
        StudyInstanceUID: "1.2",
        StudyDate: "20240131",
        PatientID: "P1",
        InstitutionName: "X",
        NumberOfStudyRelatedInstances: 3,
        ModalitiesInStudy: ["CT"],
      },
      undefined,
      "study",
    ),
    undefined,
  );
  assert.equal(
    resolvePlan({ PatientID: "P1", StudyDate: null, Modality: "" }, undefined, "study"),
    undefined,
  );
  assert.equal(
    resolvePlan({ StudyInstanceUID: "1.2", Modality: "CT" }, undefined, "study")!.level,
    "SERIES",
  );
});

test("AccessionNumber + Modality: STUDY then SERIES, each with its own keys", () => {
  const p = resolvePlan({ AccessionNumber: "A1", Modality: "CT" }, undefined, "study")!;
  assert.deepEqual([p.level, ...p.steps], ["SERIES", "STUDY", "SERIES"]);
  const study = datasetToFlat(stepIdentifier(p, "STUDY", {}, "study"));
  assert.deepEqual(study, {
    QueryRetrieveLevel: "STUDY",
    AccessionNumber: "A1",
    PatientID: null,
    StudyInstanceUID: null,
  });
  const series = datasetToFlat(
    stepIdentifier(p, "SERIES", { PatientID: "P", StudyInstanceUID: "1.2" }, "study"),
  );
  assert.deepEqual(series, {
    QueryRetrieveLevel: "SERIES",
    Modality: "CT",
    StudyInstanceUID: "1.2",
    SeriesInstanceUID: null,
  });
});

test("patient root: PatientName alone is a PATIENT-level filter", () => {
  const p = resolvePlan({ PatientName: "DOE^J*" }, undefined, "patient")!;
  assert.deepEqual([p.level, ...p.steps], ["PATIENT", "PATIENT"]);
});

function answers(table: Record<string, Array<Record<string, string>>>) {
  const asked: string[] = [];
  return {
    asked,
    find: async (id: Dataset) => {
      const key =
        `${id.string(Tags.QueryRetrieveLevel)} ${id.string(Tags.StudyInstanceUID) ?? ""}`.trim();
      asked.push(key);
      return (table[key] ?? []).map((r) => {
        const ds = new Dataset();
        for (const [k, v] of Object.entries(r))
          ds.setString(Tags[k as keyof typeof Tags] as number, k === "PatientID" ? "LO" : "UI", v);
        return ds;
      });
    },
  };
}

test("--level STUDY with a series key: the studies holding a matching series, each once", async () => {
  const p = resolvePlan({ PatientID: "P", Modality: "CT" }, "STUDY", "study")!;
  const a = answers({
    STUDY: [
      { StudyInstanceUID: "1.1", PatientID: "P" },
      { StudyInstanceUID: "1.2", PatientID: "P" },
    ],
    "SERIES 1.1": [{ SeriesInstanceUID: "1.1.1" }, { SeriesInstanceUID: "1.1.2" }],
    "SERIES 1.2": [],
  });
  const got = [];
  for await (const m of resolveMatches(p, "study", a.find)) got.push(m);
  assert.deepEqual(got, [{ PatientID: "P", StudyInstanceUID: "1.1" }]);
  assert.deepEqual(a.asked, ["STUDY", "SERIES 1.1", "SERIES 1.2"]);
});

test("a match with a wildcard or several UIDs, or none, is a MatchError: never retrieved", async () => {
  const p = resolvePlan({ PatientID: "P", StudyDate: "20240101" }, undefined, "study")!;
  const bads: Array<Record<string, string>> = [
    { StudyInstanceUID: "1.*" },
    { StudyInstanceUID: "1.1\\1.2" },
    { PatientID: "P" },
  ];
  for (const bad of bads) {
    const a = answers({ STUDY: [bad] });
    await assert.rejects(async () => {
      for await (const _ of resolveMatches(p, "study", a.find));
    }, MatchError);
  }
});
