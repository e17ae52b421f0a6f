// Regression test of the generated DCMTK UID table (tools/dcmtk-tables/generate.mjs).
// Facts below were observed with DCMTK 3.6.7 (dcmdump, storescu -> storescp -pm).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DCMTK_UNKNOWN_PREFIX,
  UID_TABLE,
  dcmtkPrefix,
  dcmtkUidName,
  isRetiredUid,
  storageSopClasses,
  uidKeyword,
} from "../src/dicom/uid-table.js";
import { runSync } from "@dicom-pipes/test-support/bins";
import { dcmdump, dump2dcm, needDcmtk } from "./helpers.js";

const CT = "1.2.840.10008.5.1.4.1.1.2";
const PET = "1.2.840.10008.5.1.4.1.1.128";

test("table shape: unique UIDs, five string columns", () => {
  assert.ok(UID_TABLE.length >= 490);
  const uids = new Set(UID_TABLE.map((e) => e[0]));
  assert.equal(uids.size, UID_TABLE.length);
  for (const e of UID_TABLE) {
    assert.equal(e.length, 5);
    assert.match(e[0], /^[0-9]+(\.[0-9]+)+$/);
  }
});

test("DCMTK names as dcmdump prints them", () => {
  assert.equal(dcmtkUidName(CT), "CTImageStorage");
  assert.equal(dcmtkUidName("1.2.840.10008.1.1"), "VerificationSOPClass");
  assert.equal(dcmtkUidName("1.2.840.10008.1.2"), "LittleEndianImplicit");
  assert.equal(dcmtkUidName("1.2.840.10008.1.2.1"), "LittleEndianExplicit");
  assert.equal(dcmtkUidName("1.2.840.10008.1.2.4.51"), "JPEGExtended:Process2+4");
  assert.equal(
    dcmtkUidName("1.2.840.10008.5.1.4.1.2.2.1"),
    "FINDStudyRootQueryRetrieveInformationModel",
  );
  assert.equal(
    dcmtkUidName("1.2.840.10008.5.1.4.1.2.2.3"),
    "GETStudyRootQueryRetrieveInformationModel",
  );
  assert.equal(dcmtkUidName("1.2.840.10008.5.1.4.1.1.88.70"), "ImplantationPlanSRDocumentStorage");
  // newer than DCMTK 3.6.7: printed as [uid]
  assert.equal(dcmtkUidName("1.2.840.10008.5.1.4.1.1.6.3"), undefined);
  assert.equal(dcmtkUidName("1.2.3.4.5.6"), undefined);
});

test("PS3.6 keywords", () => {
  assert.equal(uidKeyword(CT), "CTImageStorage");
  assert.equal(uidKeyword("1.2.840.10008.1.2.1"), "ExplicitVRLittleEndian");
  assert.equal(
    uidKeyword("1.2.840.10008.5.1.4.1.2.2.1"),
    "StudyRootQueryRetrieveInformationModelFind",
  );
  assert.equal(uidKeyword("1.2.3.4.5.6"), undefined);
});

test("storescp file-name prefixes", () => {
  assert.equal(dcmtkPrefix(CT), "CT");
  assert.equal(dcmtkPrefix("1.2.840.10008.5.1.4.1.1.4"), "MR");
  assert.equal(dcmtkPrefix(PET), "PI");
  assert.equal(dcmtkPrefix("1.2.840.10008.5.1.4.1.1.1.1"), "DX");
  assert.equal(dcmtkPrefix("1.2.840.10008.5.1.4.1.1.88.11"), "SRt");
  assert.equal(dcmtkPrefix("1.2.840.10008.5.1.4.38.1"), "HP");
  assert.equal(dcmtkPrefix("1.2.840.10008.5.1.4.1.1.6.3"), undefined);
  assert.equal(dcmtkPrefix("1.2.840.10008.5.1.4.1.2.2.1"), undefined);
  assert.equal(DCMTK_UNKNOWN_PREFIX, "UNKNOWN");
});

test("storageSopClasses: storage only, non-retired first", () => {
  const s = storageSopClasses();
  assert.equal(new Set(s).size, s.length);
  assert.ok(s.includes(CT) && s.includes(PET));
  assert.ok(s.includes("1.2.840.10008.5.1.4.1.1.1.1")); // ...StorageForPresentation
  assert.ok(!s.includes("1.2.840.10008.1.3.10")); // DICOMDIR
  assert.ok(!s.includes("1.2.840.10008.1.20.1")); // Storage Commitment
  assert.ok(!s.includes("1.2.840.10008.5.1.4.1.2.2.1"));
  const firstRetired = s.findIndex((u) => isRetiredUid(u));
  assert.ok(firstRetired > 0);
  assert.ok(s.slice(firstRetired).every((u) => isRetiredUid(u)));
  assert.equal(storageSopClasses(), s); // cached
});

test("agrees with the installed dcmdump on a sample", (t) => {
  if (!needDcmtk(t)) return;
  const version = runSync("dcmdump", ["--version"]).stdout;
  if (!/dcmdump v3\.6\.7\b/.test(version)) {
    t.skip("table was generated with DCMTK 3.6.7");
    return;
  }
  // every 9th entry plus a few named ones: known and unknown UIDs of all types
  const sample = UID_TABLE.filter((_, i) => i % 9 === 0).map((e) => e[0]);
  sample.push(
    CT,
    PET,
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.5.1.4.1.2.2.1",
    "1.2.840.10008.5.1.4.1.1.6.3",
  );
  const lines = ["(0008,1199) SQ (Sequence with undefined length)"];
  for (const uid of sample) {
    lines.push(
      "  (fffe,e000) na (Item with undefined length)",
      `    (0008,1150) UI [${uid}]`,
      "  (fffe,e00d) na (ItemDelimitationItem)",
    );
  }
  lines.push("(fffe,e0dd) na (SequenceDelimitationItem)");
  const dump = dcmdump(dump2dcm(lines.join("\n"), ["-F", "+te"]), ["+L", "-f"]);
  assert.equal(dump.status, 0, dump.stderr);
  const values = [...dump.text.matchAll(/\(0008,1150\) UI (\S+)\s+#/g)].map((m) => m[1]);
  assert.equal(values.length, sample.length);
  sample.forEach((uid, i) => {
    const name = dcmtkUidName(uid);
    assert.equal(values[i], name === undefined ? `[${uid}]` : `=${name}`, uid);
  });
});
