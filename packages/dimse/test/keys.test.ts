// `-k` key syntax (src/records/keys.ts), query-table columns (columns.ts) and
// query value validation (validate.ts).
//
// findscu applies -k keys with DCMTK's path processor, the same code that
// `dcmodify -i` uses, so dcmodify is the peer: every row of dcmtk-cli.md §3
// is applied by both and the resulting data sets are compared in dcmdump.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Dataset, TransferSyntax, elementNumbers, textElement } from "../src/dicom/index.js";
import {
  KeyError,
  ValueError,
  applyKey,
  mapColumn,
  nearestKeyword,
  parseKey,
  parseTagRef,
  validateDateQuery,
  validateQueryValue,
  validateTimeQuery,
  validateUidQuery,
} from "../src/records/index.js";
import { runSync } from "@dicom-pipes/test-support/bins";
import { dataLines, dcmdump, dump2dcm, needDcmtk, ourPart10, writeTmp } from "./helpers.js";

const BASE = "(0008,0016) UI [1.2.840.10008.5.1.4.1.1.7]\n(0008,0018) UI [1.2.3.4]";

/** dcmodify -i for each key on a small file: the data set lines, or DCMTK's error text. */
function peer(keys: string[]): { ok: true; lines: string[] } | { ok: false; error: string } {
  const file = writeTmp("peer.dcm", dump2dcm(BASE, []));
  const r = runSync("dcmodify", ["-nb", ...keys.flatMap((k) => ["-i", k]), file]);
  if (r.code !== 0) return { ok: false, error: r.stderr };
  const d = runSync("dcmdump", ["+L", file]);
  return { ok: true, lines: dataLines(d.stdoutBytes.toString("latin1")) };
}

/** Our parseKey + applyKey for each key on the same base data set. */
function ours(keys: string[]): string[] {
  const ds = new Dataset();
  ds.set(textElement(0x00080016, "UI", "1.2.840.10008.5.1.4.1.1.7"));
  ds.set(textElement(0x00080018, "UI", "1.2.3.4"));
  for (const k of keys) applyKey(ds, parseKey(k));
  const r = dcmdump(ourPart10(ds, TransferSyntax.ExplicitVRLittleEndian), ["+L"]);
  assert.equal(r.stderr, "");
  return dataLines(r.text);
}

function same(keys: string[], expectedLine?: string): void {
  const p = peer(keys);
  assert.ok(p.ok, `dcmodify rejected ${keys.join(" ")}: ${p.ok ? "" : p.error}`);
  const o = ours(keys);
  assert.deepEqual(o, p.lines, keys.join(" "));
  if (expectedLine !== undefined)
    assert.ok(o.includes(expectedLine), `${expectedLine}\n${o.join("\n")}`);
}

test("§3: tag and keyword forms all give (0010,0020) LO [PAT001]", (t) => {
  if (!needDcmtk(t)) return;
  for (const k of ["(0010,0020)=PAT001", "0010,0020=PAT001", "10,20=PAT001", "PatientID=PAT001"]) {
    same([k], "(0010,0020) LO [PAT001]                                 #   6, 1 PatientID");
  }
  assert.deepEqual(parseKey("10,20=PAT001"), {
    path: [{ tag: 0x00100020 }],
    value: "PAT001",
    text: "10,20=PAT001",
  });
});

test("§3: bare keyword and empty value give a zero-length element (return key)", (t) => {
  if (!needDcmtk(t)) return;
  same(["PatientID"], "(0010,0020) LO (no value available)                     #   0, 0 PatientID");
  same(
    ["PatientID="],
    "(0010,0020) LO (no value available)                     #   0, 0 PatientID",
  );
  assert.equal(parseKey("PatientID").value, undefined);
  assert.equal(parseKey("PatientID=").value, "");
  same(["8,30="], "(0008,0030) TM (no value available)                     #   0, 0 StudyTime");
});

test("§3: hex is case-insensitive", (t) => {
  if (!needDcmtk(t)) return;
  same(
    ["0008,103E"],
    "(0008,103e) LO (no value available)                     #   0, 0 SeriesDescription",
  );
  same(["0020,000D=1.2.3"]);
  assert.equal(parseKey("(0008,103e)").path[0]!.tag, parseKey("0008,103E").path[0]!.tag);
});

test("§3: wrong-case keyword, 8-digit tag and spaces around '=' are errors with DCMTK's message", (t) => {
  if (!needDcmtk(t)) return;
  for (const [k, rest] of [
    ["patientid=X", "patientid"],
    ["00100020=X", "00100020"],
    ["PatientID = PAT001", "PatientID "],
    ["NoSuchKeyword=1", "NoSuchKeyword"],
    [" PatientID=X", " PatientID"],
    ["(gggg,0010)=x", "(gggg,0010)"],
    [
      "RequestAttributesSequence.RequestedProcedureID=X",
      "RequestAttributesSequence.RequestedProcedureID",
    ],
  ] as Array<[string, string]>) {
    const p = peer([k]);
    const dcmtkMessage = `Unable to parse tag/dictionary name at beginning of path: ${rest}`;
    assert.ok(!p.ok && p.error.includes(dcmtkMessage), `${k}: ${p.ok ? "accepted" : p.error}`);
    assert.throws(
      () => parseKey(k),
      (e: unknown) =>
        e instanceof KeyError &&
        e.key === k &&
        e.message === `Bad override key/path: ${k}: ${dcmtkMessage}`,
      k,
    );
  }
});

test("§3: unbalanced parentheses: '(0008,0030' is an error, '0008,0030)' is tolerated", (t) => {
  if (!needDcmtk(t)) return;
  assert.equal(peer(["(0008,0030=1"]).ok, false);
  assert.throws(() => parseKey("(0008,0030=1"), KeyError);
  same(
    ["0008,0030)=1"],
    "(0008,0030) TM [1]                                      #   2, 1 StudyTime",
  );
  same(["(8,30)=1"]);
});

test("§3: values are verbatim: quotes kept, '=' inside, ranges, wildcards, spaces", (t) => {
  if (!needDcmtk(t)) return;
  same(
    ['PatientID="PAT001"'],
    '(0010,0020) LO ["PAT001"]                               #   8, 1 PatientID',
  );
  same(
    ["PatientID=A=B"],
    "(0010,0020) LO [A=B]                                    #   4, 1 PatientID",
  );
  same(
    ["StudyDate=20200101-20211231"],
    "(0008,0020) DA [20200101-20211231]                      #  18, 1 StudyDate",
  );
  same(["PatientName=DOE^J*"]);
  same(
    ["PatientName=DOE JOHN"],
    "(0010,0010) PN [DOE JOHN]                               #   8, 1 PatientName",
  );
  same(["PatientID=X "]);
  assert.equal(parseKey('PatientID="PAT001"').value, '"PAT001"');
});

test("§3: the last key for an attribute wins", (t) => {
  if (!needDcmtk(t)) return;
  same(
    ["PatientID=A", "PatientID=B"],
    "(0010,0020) LO [B]                                      #   2, 1 PatientID",
  );
  same(["PatientID=A", "PatientID"]);
});

test("§3: backslash separates values", (t) => {
  if (!needDcmtk(t)) return;
  same(
    ["ModalitiesInStudy=CT\\MR"],
    "(0008,0061) CS [CT\\MR]                                  #   6, 2 ModalitiesInStudy",
  );
  same(["PixelSpacing=0.5\\0.5"]);
  same(["Rows=512"], "(0028,0010) US 512                                      #   2, 1 Rows");
  same(["Rows= 5"]);
  same(
    ["FrameIncrementPointer=(0018,1063)\\(7fe0,0010)"],
    "(0028,0009) AT (0018,1063)\\(7fe0,0010)                  #   8, 2 FrameIncrementPointer",
  );
});

test("§3: sequence paths create the sequence and item", (t) => {
  if (!needDcmtk(t)) return;
  same(["(0040,0275)[0].(0032,1060)=FOO"]);
  same(["RequestAttributesSequence[0].RequestedProcedureDescription"]);
  same(
    ["RequestAttributesSequence"],
    "(0040,0275) SQ (Sequence with explicit length #=0)      #   0, 1 RequestAttributesSequence",
  );
  same(["RequestAttributesSequence[0]"]);
  same(["RequestAttributesSequence[1].RequestedProcedureID=B"]); // item 0 is created empty
  same(["RequestAttributesSequence[0].ScheduledProtocolCodeSequence[1].CodeValue=C"]);
  same([
    "RequestAttributesSequence[0].RequestedProcedureID=A",
    "RequestAttributesSequence[0].RequestedProcedureDescription=D",
  ]);
  const k = parseKey("RequestAttributesSequence[0].RequestedProcedureDescription=X");
  assert.deepEqual(k.path, [{ tag: 0x00400275, item: 0 }, { tag: 0x00321060 }]);
});

test("§3: malformed paths are errors (both peers)", (t) => {
  if (!needDcmtk(t)) return;
  for (const k of [
    "RequestAttributesSequence.RequestedProcedureID=X", // no item index
    "RequestAttributesSequence[0]RequestedProcedureID=X", // no dot
    "RequestAttributesSequence[*].RequestedProcedureID=X", // wildcard
    "PatientID[0]=X", // item of a non-sequence
    "PatientID[0]",
    "PatientID.PatientName=X",
  ]) {
    assert.equal(peer([k]).ok, false, `dcmodify accepted ${k}`);
    assert.throws(() => parseKey(k), KeyError, k);
  }
});

test("§3: private creator accepted as LO; private data without its creator is an error", (t) => {
  if (!needDcmtk(t)) return;
  same(
    ["(0009,0010)=PRIV"],
    "(0009,0010) LO [PRIV]                                   #   4, 1 PrivateCreator",
  );
  assert.equal(peer(["(0009,1001)=X"]).ok, false);
  const ds = new Dataset();
  assert.throws(
    () => applyKey(ds, parseKey("(0009,1001)=X")),
    (e: unknown) => e instanceof KeyError && /private creator \(0009,0010\)/.test(e.message),
  );
});

test("keys: the lone lower-case keyword and retired keywords", (t) => {
  if (!needDcmtk(t)) return;
  same(["dBdt=1.5"], "(0018,1318) DS [1.5]                                    #   4, 1 dBdt");
  assert.throws(() => parseKey("DBDT=1"), KeyError);
  same(["RETIRED_DataSetType=1"]);
  // Intentional leniency: DCMTK 3.6.7 knows retired attributes only as RETIRED_<keyword>
  // (and calls (0010,1000) RETIRED_OtherPatientIDs); we accept the PS3.6 keyword too.
  assert.equal(peer(["OtherPatientIDs=A"]).ok, false);
  assert.equal(parseKey("OtherPatientIDs=A").path[0]!.tag, 0x00101000);
  assert.equal(parseKey("DataSetType=1").path[0]!.tag, 0x00080040);
});

test("keys: numbers out of range for the VR are key errors, not crashes", () => {
  // (dcmodify wraps Rows=70000 to 4464 silently; a clear error is kinder for a query key)
  for (const k of ["Rows=70000", "Rows=-1", "ReferencePixelX0=3000000000"]) {
    assert.throws(
      () => applyKey(new Dataset(), parseKey(k)),
      (e: unknown) => e instanceof KeyError && /out of range/.test(e.message),
      k,
    );
  }
  assert.throws(
    () => applyKey(new Dataset(), parseKey("Rows=abc")),
    (e: unknown) => e instanceof KeyError && /not numeric/.test(e.message),
  );
  const ds = new Dataset();
  applyKey(ds, parseKey("SelectorULValue=4294967295\\0"));
  assert.deepEqual(elementNumbers(ds.get(0x00720078)!), [4294967295, 0]);
});

test("parseTagRef: forms and the rest of the string", () => {
  assert.deepEqual(parseTagRef("(0010,0020)=x"), { tag: 0x00100020, rest: "=x" });
  assert.deepEqual(parseTagRef("8,30"), { tag: 0x00080030, rest: "" });
  assert.deepEqual(parseTagRef("PatientID[0]"), { tag: 0x00100020, rest: "[0]" });
  assert.equal(parseTagRef("Nope"), undefined);
  assert.equal(parseTagRef("(0010,0020"), undefined);
});

// ---------------------------------------------------------------- columns

test("mapColumn: keywords, tags, aliases (case and separators ignored), metadata, query column", () => {
  assert.deepEqual(mapColumn("PatientID"), { kind: "keyword", keyword: "PatientID" });
  assert.deepEqual(mapColumn(" StudyInstanceUID "), {
    kind: "keyword",
    keyword: "StudyInstanceUID",
  });
  assert.deepEqual(mapColumn("0020000d"), { kind: "tag", key: "0020000D" });
  assert.deepEqual(mapColumn("Patient ID"), { kind: "keyword", keyword: "PatientID" });
  assert.deepEqual(mapColumn("patient_id"), { kind: "keyword", keyword: "PatientID" });
  assert.deepEqual(mapColumn("MRN"), { kind: "keyword", keyword: "PatientID" });
  assert.deepEqual(mapColumn("mrn"), { kind: "keyword", keyword: "PatientID" });
  assert.deepEqual(mapColumn("Accession #"), { kind: "keyword", keyword: "AccessionNumber" });
  assert.deepEqual(mapColumn("ACC"), { kind: "keyword", keyword: "AccessionNumber" });
  assert.deepEqual(mapColumn("DOB"), { kind: "keyword", keyword: "PatientBirthDate" });
  assert.deepEqual(mapColumn("Study-Date"), { kind: "keyword", keyword: "StudyDate" });
  assert.deepEqual(mapColumn("Study UID"), { kind: "keyword", keyword: "StudyInstanceUID" });
  assert.deepEqual(mapColumn("Query No"), { kind: "query" });
  assert.deepEqual(mapColumn("ID"), { kind: "query" });
  assert.deepEqual(mapColumn("status"), { kind: "metadata", key: "status" });
  assert.deepEqual(mapColumn("dBdt"), { kind: "keyword", keyword: "dBdt" });
});

test("mapColumn: a keyword in the wrong case is unknown, with the keyword as suggestion", () => {
  assert.deepEqual(mapColumn("patientID"), { kind: "unknown", suggestion: "PatientID" });
  assert.deepEqual(mapColumn("studydate"), { kind: "unknown", suggestion: "StudyDate" });
  assert.deepEqual(mapColumn("STUDYINSTANCEUID"), {
    kind: "unknown",
    suggestion: "StudyInstanceUID",
  });
  assert.deepEqual(mapColumn("PatientNam"), { kind: "unknown", suggestion: "PatientName" });
  assert.deepEqual(mapColumn("SeriesDescripton"), {
    kind: "unknown",
    suggestion: "SeriesDescription",
  });
  assert.deepEqual(mapColumn("Favourite colour"), { kind: "unknown", suggestion: undefined });
  assert.equal(nearestKeyword("Modalty"), "Modality");
  assert.equal(nearestKeyword("xyzzy"), undefined);
});

// ---------------------------------------------------------------- validation

/** PS3.5 DA: YYYYMMDD, a real calendar date; PS3.4 C.2.2.2.5: ranges with one open end. */
test("validateDateQuery: dates, leap years, ranges and open ranges", () => {
  for (const ok of [
    "20240131",
    "20240229",
    "20000229",
    "19991231",
    "20200101-20211231",
    "-20211231",
    "20200101-",
    "20200101-20200101",
    "",
    " 20240131 ",
  ]) {
    assert.doesNotThrow(() => validateDateQuery("StudyDate", ok), ok);
  }
  for (const bad of [
    "20230230",
    "20230229",
    "19000229",
    "20231301",
    "20230100",
    "20230132",
    "2023013",
    "2023-01-31",
    "20230131-20230230",
    "-",
    "20211231-20200101",
    "20200101-20210101-20220101",
    "yesterday",
    "2023013a",
  ]) {
    assert.throws(
      () => validateDateQuery("StudyDate", bad),
      (e: unknown) =>
        e instanceof ValueError && e.field === "StudyDate" && e.message.startsWith("StudyDate: "),
      bad,
    );
  }
  assert.throws(() => validateDateQuery("StudyDate", "20230230"), /"20230230" is not a date/);
  assert.throws(() => validateDateQuery("StudyDate", "20211231-20200101"), /ends before it starts/);
});

/** PS3.5 TM: HH[MM[SS[.F{1,6}]]]. */
test("validateTimeQuery: times and ranges", () => {
  for (const ok of [
    "10",
    "1015",
    "101530",
    "101530.1",
    "101530.123456",
    "235959",
    "000000",
    "1000-1200",
    "-1200",
    "1000-",
    "",
  ]) {
    assert.doesNotThrow(() => validateTimeQuery("StudyTime", ok), ok);
  }
  for (const bad of [
    "24",
    "2400",
    "1060",
    "101560",
    "101530.1234567",
    "1",
    "10:15",
    "-",
    "10-11-12",
    "ab",
  ]) {
    assert.throws(() => validateTimeQuery("StudyTime", bad), ValueError, bad);
  }
});

/** PS3.5 UI: digits and dots, at most 64 characters; lists with `\` (PS3.4 list of UID matching). */
test("validateUidQuery: UIDs and UID lists", () => {
  for (const ok of ["1.2.3", "1.2.840.10008.5.1.4.1.1.2\\1.2.3", "", `1.${"2".repeat(62)}`])
    assert.doesNotThrow(() => validateUidQuery("StudyInstanceUID", ok), ok);
  for (const bad of ["1.2.a", "1..2", ".1", "1.2.", `1.${"2".repeat(63)}`, "1.2.3\\x", "1.2.3*"]) {
    assert.throws(() => validateUidQuery("StudyInstanceUID", bad), ValueError, bad);
  }
});

test("validateQueryValue: a lone '*' is rejected for every VR; wildcards inside values are fine", () => {
  for (const [field, vr] of [
    ["PatientName", "PN"],
    ["StudyDate", "DA"],
    ["PatientID", "LO"],
    ["StudyInstanceUID", "UI"],
  ] as const) {
    assert.throws(
      () => validateQueryValue(field, vr, "*"),
      (e: unknown) => e instanceof ValueError && e.message.includes("lone"),
      field,
    );
    assert.throws(() => validateQueryValue(field, vr, " * "), ValueError, field);
  }
  assert.doesNotThrow(() => validateQueryValue("PatientName", "PN", "DOE*"));
  assert.doesNotThrow(() => validateQueryValue("PatientName", "PN", "D?E"));
  assert.doesNotThrow(() => validateQueryValue("PatientID", "LO", ""));
  assert.throws(() => validateQueryValue("StudyDate", "DA", "20230230"), ValueError);
  assert.throws(() => validateQueryValue("StudyTime", "TM", "2500"), ValueError);
  assert.throws(() => validateQueryValue("SeriesInstanceUID", "UI", "abc"), ValueError);
});
