// dcmdump-format text (src/dicom/dump.ts) compared byte for byte with DCMTK 3.6.7.
//
// How the two dcmdump modes map to ours:
// - findscu prints response identifiers as received from the network, with
//   the padding byte inside the brackets (`[STUDY ]`, a NUL after a UID;
//   dcmtk-cli.md §5). dcmdump shows the same raw values when its automatic
//   input data correction is off: `dcmdump -dc`. That is our default
//   (`showPadding` true).
// - dcmdump's default (`+dc`) strips trailing padding on reading. findscu -v
//   shows the *request* identifiers unpadded because DCMTK never padded them
//   in memory. `showPadding: false` serves that request dump: it removes the
//   one padding byte our encoder added. For values with a single padding
//   byte both agree; see the last tests for where they differ.
// - dcmdump shortens long values unless `+L`; findscu does not shorten
//   (dcmtk-cli.md §5: "Long values are not truncated"), so we compare with +L.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Dataset,
  TransferSyntax,
  allKeywords,
  dcmtkDumpName,
  describeTag,
  dumpLines,
  lookupKeyword,
  numberElement,
  parseDataset,
  parsePart10,
  responseBlock,
  tagDcmtk,
  textElement,
} from "../src/dicom/index.js";
import {
  EXPLICIT_LE,
  SAMPLE_DUMP,
  dataLines,
  dcmdump,
  dcmtkDictionary,
  dump2dcm,
  needDcmtk,
  raw,
  rawItem,
  rawSeq,
} from "./helpers.js";

const TS = TransferSyntax;

/** dcmdump's data set lines for a bare data set file. */
function peerLines(bytes: Buffer, ...args: string[]): string[] {
  const r = dcmdump(bytes, ["-f", "+L", ...args]);
  assert.equal(r.status, 0, r.stderr);
  return dataLines(r.text);
}

/** Our lines as text lines (a value holding a newline continues on the next line, as in dcmdump). */
const split = (lines: string[]) => lines.join("\n").split("\n");

/** Ours in both modes against dcmdump -dc and dcmdump (+dc). */
function compareBoth(bytes: Buffer, ts: string, little = true): void {
  const ds = parseDataset(bytes, ts);
  assert.deepEqual(
    split(dumpLines(ds, little)),
    peerLines(bytes, "-dc"),
    "raw values (findscu response dump) vs dcmdump -dc",
  );
  assert.deepEqual(
    split(dumpLines(ds, little, 0, [], { showPadding: false })),
    peerLines(bytes),
    "unpadded values vs dcmdump",
  );
}

test("sample data set, explicit VR little endian: identical to dcmdump", (t) => {
  if (!needDcmtk(t)) return;
  // strings, Latin-1 bytes, UIDs with names, multi-values, empty PN, US/SL/FD/SS/FL/UL,
  // AT, OB, OW, retired names, private creator and data, nested sequences, an empty item
  compareBoth(dump2dcm(SAMPLE_DUMP, ["-F", "+te"]), TS.ExplicitVRLittleEndian);
});

test("sample data set, explicit VR big endian: identical to dcmdump", (t) => {
  if (!needDcmtk(t)) return;
  compareBoth(dump2dcm(SAMPLE_DUMP, ["-F", "+tb"]), TS.ExplicitVRBigEndian, false);
});

test("sample data set with undefined-length sequences and items: identical to dcmdump", (t) => {
  if (!needDcmtk(t)) return;
  const bytes = dump2dcm(SAMPLE_DUMP, ["-F", "-e", "+te"]);
  compareBoth(bytes, TS.ExplicitVRLittleEndian);
  assert.ok(
    peerLines(bytes).includes(
      "(0040,0275) SQ (Sequence with undefined length #=2)     # u/l, 1 RequestAttributesSequence",
    ),
  );
});

test("sample data set, implicit VR: identical except DCMTK's '??' for an unknown VR", (t) => {
  if (!needDcmtk(t)) return;
  const bytes = dump2dcm(SAMPLE_DUMP, ["-F", "+ti"]);
  const ours = dumpLines(parseDataset(bytes, TS.ImplicitVRLittleEndian));
  const peer = peerLines(bytes, "-dc");
  // Known difference: private data without a dictionary entry has no VR in
  // implicit syntax. DCMTK prints `??`, we hold (and print) it as UN.
  const i = peer.findIndex((l) => l.startsWith("(0009,1001)"));
  assert.equal(
    peer[i],
    "(0009,1001) ?? 76\\65\\6e\\64\\6f\\72                        #   6, 1 Unknown Tag & Data",
  );
  assert.equal(
    ours[i],
    "(0009,1001) UN 76\\65\\6e\\64\\6f\\72                        #   6, 1 Unknown Tag & Data",
  );
  ours.splice(i, 1);
  peer.splice(i, 1);
  // sequence lengths are those of the implicit encoding (104/88, not 108/92)
  assert.ok(
    peer.includes(
      "(0040,0275) SQ (Sequence with explicit length #=2)      # 104, 1 RequestAttributesSequence",
    ),
  );
  assert.deepEqual(ours, peer);
});

// The block of dcmtk-cli.md §5, copied from a real findscu 3.6.7 run.
const FINDSCU_BLOCK = `I: ---------------------------
I: Find Response: 1 (Pending)
I: 
I: # Dicom-Data-Set
I: # Used TransferSyntax: Little Endian Explicit
I: (0008,0020) DA [20200101]                               #   8, 1 StudyDate
I: (0008,0052) CS [STUDY ]                                 #   6, 1 QueryRetrieveLevel
I: (0008,0054) AE [QRSCP ]                                 #   6, 1 RetrieveAETitle
I: (0010,0010) PN [DOE^JOHN]                               #   8, 1 PatientName
I: (0020,000d) UI [1.2.826.0.1.3680043.9.7777.1]           #  28, 1 StudyInstanceUID
I: `;

function findscuResponse(): Buffer {
  return Buffer.concat([
    raw(0x00080020, "DA", "20200101"),
    raw(0x00080052, "CS", "STUDY "),
    raw(0x00080054, "AE", "QRSCP "),
    raw(0x00100010, "PN", "DOE^JOHN"),
    raw(0x0020000d, "UI", "1.2.826.0.1.3680043.9.7777.1"),
  ]);
}

test("responseBlock reproduces findscu's response block (dcmtk-cli.md §5)", () => {
  const ds = parseDataset(findscuResponse(), TS.ExplicitVRLittleEndian);
  const block = responseBlock(1, "Pending", ds, TS.ExplicitVRLittleEndian);
  assert.equal(block.map((l) => `I: ${l}`).join("\n"), FINDSCU_BLOCK);
  assert.equal(
    responseBlock(3, "Pending", ds, TS.ImplicitVRLittleEndian)[1],
    "Find Response: 3 (Pending)",
  );
  assert.equal(
    responseBlock(1, "Pending", ds, TS.ImplicitVRLittleEndian)[4],
    "# Used TransferSyntax: Little Endian Implicit",
  );
  assert.equal(
    responseBlock(1, "Pending", ds, TS.ExplicitVRBigEndian)[4],
    "# Used TransferSyntax: Big Endian Explicit",
  );
});

test("responseBlock's data set part equals dcmdump -dc's listing of the same bytes", (t) => {
  if (!needDcmtk(t)) return;
  const bytes = findscuResponse();
  const block = responseBlock(
    1,
    "Pending",
    parseDataset(bytes, TS.ExplicitVRLittleEndian),
    TS.ExplicitVRLittleEndian,
  );
  // dcmdump -f prints "", "# Dicom-Data-Set", "# Used TransferSyntax: …", lines…, and ends with a newline
  const r = dcmdump(bytes, ["-f", "+L", "-dc"]);
  assert.deepEqual(block.slice(2), r.text.split("\n"));
});

test("padding as received: trailing spaces, NULs and multi-values inside the brackets", (t) => {
  if (!needDcmtk(t)) return;
  const bytes = Buffer.concat([
    raw(0x00080005, "CS", "ISO_IR 100"),
    raw(0x00080050, "SH", "A1  "),
    raw(0x00080052, "CS", "SERIES"),
    raw(0x00080061, "CS", "CT\\MR "),
    raw(0x00080090, "PN", "  "),
    raw(0x0008103e, "LO", " S1 "),
    raw(0x00100010, "PN", "Müller^Jürgen "),
    raw(0x00100020, "LO", "P1\0\0"),
    raw(0x0020000d, "UI", "1.2.840.10008.5.1.4.1.1.2\0"),
    raw(0x0020000e, "UI", "1.2.3\0"),
    raw(0x00201206, "IS", "1 "),
    raw(0x00204000, "LT", "line1\r\nline2  "),
  ]);
  const ds = parseDataset(bytes, TS.ExplicitVRLittleEndian);
  assert.deepEqual(split(dumpLines(ds)), peerLines(bytes, "-dc"));
  const lines = dumpLines(ds);
  const line = (head: string, tail: string) => head.padEnd(56) + tail;
  assert.ok(lines.includes(line("(0020,000d) UI =CTImageStorage", "#  26, 1 StudyInstanceUID")));
  assert.ok(lines.includes(line("(0008,0061) CS [CT\\MR ]", "#   6, 2 ModalitiesInStudy")));
  assert.ok(lines.includes(line("(0008,0090) PN [  ]", "#   2, 1 ReferringPhysicianName")));
  assert.ok(lines.includes(line("(0020,000e) UI [1.2.3\0]", "#   6, 1 SeriesInstanceUID")));
});

test("empty values of every kind print (no value available) with VM 0", (t) => {
  if (!needDcmtk(t)) return;
  const dump = [
    "(0008,0016) UI (no value available)",
    "(0008,0020) DA (no value available)",
    "(0008,0061) CS (no value available)",
    "(0009,0010) LO (no value available)",
    "(0010,0010) PN (no value available)",
    "(0020,0013) IS (no value available)",
    "(0028,0010) US (no value available)",
    "(0040,0275) SQ (Sequence with explicit length #=0)",
    "(fffe,e0dd) na (SequenceDelimitationItem for re-encod.)",
    "(0042,0011) OB (no value available)",
    "(0070,0022) FL (no value available)",
  ].join("\n");
  compareBoth(dump2dcm(dump), TS.ExplicitVRLittleEndian);
  compareBoth(dump2dcm(dump, ["-F", "-e"]), TS.ExplicitVRLittleEndian);
  const ours = dumpLines(parseDataset(dump2dcm(dump), TS.ExplicitVRLittleEndian));
  assert.equal(
    ours[0],
    "(0008,0016) UI (no value available)                     #   0, 0 SOPClassUID",
  );
});

test("UIDs: known names, unknown UIDs, transfer syntaxes, multi-valued UI", (t) => {
  if (!needDcmtk(t)) return;
  const dump = [
    "(0008,0016) UI [1.2.840.10008.5.1.4.1.1.4]",
    "(0008,0018) UI [1.2.3.4.5.6.7.8.9.10]",
    "(0008,001a) UI [1.2.840.10008.5.1.4.1.1.2\\1.2.840.10008.5.1.4.1.1.4]",
    "(0008,1150) UI [1.2.840.10008.5.1.4.1.2.2.1]",
    "(0008,1155) UI [1.2.840.10008.1.2.1]",
    "(0400,0010) UI [1.2.840.10008.1.2.4.51]",
    "(0400,0510) UI [1.2.840.10008.5.1.4.1.1.6.3]", // newer than DCMTK 3.6.7: printed as [uid]
  ].join("\n");
  const bytes = dump2dcm(dump);
  compareBoth(bytes, TS.ExplicitVRLittleEndian);
  const lines = dumpLines(parseDataset(bytes, TS.ExplicitVRLittleEndian));
  assert.equal(
    lines[0],
    "(0008,0016) UI =MRImageStorage                          #  26, 1 SOPClassUID",
  );
  assert.match(lines[2]!, /^\(0008,001a\) UI \[1\.2\.840\.10008\.5\.1\.4\.1\.1\.2\\1\.2\.840/);
});

test("numbers: US, SS, UL, SL, FL, FD, AT at their limits; OB, OW, UN bytes; both byte orders", (t) => {
  if (!needDcmtk(t)) return;
  const build = (little: boolean) => {
    const enc = { explicit: true, little };
    const num = (vr: string, ...values: number[]) => {
      const w = { US: 2, SS: 2, OW: 2, AT: 2, UL: 4, SL: 4, FL: 4, FD: 8 }[vr]!;
      const b = Buffer.alloc(values.length * w);
      values.forEach((v, i) => {
        const o = i * w;
        const m =
          `write${{ US: "UInt16", OW: "UInt16", AT: "UInt16", SS: "Int16", UL: "UInt32", SL: "Int32", FL: "Float", FD: "Double" }[vr]}${little ? "LE" : "BE"}` as "writeUInt16LE";
        b[m](v, o);
      });
      return b;
    };
    return Buffer.concat([
      raw(0x00181310, "US", num("US", 0, 1, 65535, 512), enc),
      raw(0x00186020, "SL", num("SL", -2147483648, 2147483647), enc),
      raw(0x00189087, "FD", num("FD", 0.5, -1234567.875, 1e21, 100, 0.125, -0), enc),
      raw(0x00280009, "AT", num("AT", 0x0018, 0x1063, 0x7fe0, 0x0010), enc),
      raw(0x00281201, "OW", num("OW", 0x0001, 0xffff, 0x1234), enc),
      raw(0x00289503, "SS", num("SS", -32768, 32767, -1, 0), enc),
      raw(0x00420011, "OB", Buffer.from([0x00, 0xff, 0x7f, 0x80]), enc),
      raw(0x00700022, "FL", num("FL", 1.5, -2.25, 16777216, 0.0078125), enc),
      raw(0x00720078, "UL", num("UL", 4294967295, 0), enc),
      raw(0x00720080, "UN", Buffer.from("abc\0"), enc),
    ]);
  };
  // OB/OW/OF/OL/UN count as one value (also when empty); FL/US… count their values
  const other = (little: boolean) => {
    const enc = { explicit: true, little };
    const f = Buffer.alloc(8);
    f[little ? "writeFloatLE" : "writeFloatBE"](1.5, 0);
    f[little ? "writeFloatLE" : "writeFloatBE"](-2, 4);
    return Buffer.concat([
      raw(0x00660016, "OF", f, enc),
      raw(0x00660017, "FL", Buffer.alloc(0), enc),
      raw(0x00281202, "OW", Buffer.alloc(0), enc),
    ]);
  };
  compareBoth(build(true), TS.ExplicitVRLittleEndian);
  compareBoth(build(false), TS.ExplicitVRBigEndian, false);
  compareBoth(other(true), TS.ExplicitVRLittleEndian);
  compareBoth(other(false), TS.ExplicitVRBigEndian, false);
  const lines = dumpLines(parseDataset(build(false), TS.ExplicitVRBigEndian), false);
  assert.ok(
    lines.includes(
      "(0028,0009) AT (0018,1063)\\(7fe0,0010)                  #   8, 2 FrameIncrementPointer",
    ),
    lines.join("\n"),
  );
  assert.ok(
    lines.includes(
      "(0028,1201) OW 0001\\ffff\\1234                           #   6, 1 RedPaletteColorLookupTableData",
    ),
    lines.join("\n"),
  );
});

test("long values: no truncation, one space before '#' past column 56, wide length and VM fields", (t) => {
  if (!needDcmtk(t)) return;
  const cs = Array.from({ length: 12 }, (_, i) => `V${i}`).join("\\");
  const lt = "x".repeat(1200);
  const dump = [
    `(0008,0008) CS [${cs}]`,
    "(0008,0018) UI [1.2.826.0.1.3680043.9.7777.1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16]",
    `(0008,1030) LO [${"L".repeat(40)}]`, // past column 56 → one space
    `(0008,103e) LO [${"S".repeat(39)}]`, // padded: past column 56; unpadded: up to column 56
    `(0010,0010) PN [${"N".repeat(64)}]`,
    `(0020,4000) LT [${lt}]`,
  ].join("\n");
  const bytes = dump2dcm(dump);
  compareBoth(bytes, TS.ExplicitVRLittleEndian);
  const lines = dumpLines(parseDataset(bytes, TS.ExplicitVRLittleEndian));
  assert.match(lines[0]!, /# {2}38,12 ImageType$/);
  assert.equal(lines[2], `(0008,1030) LO [${"L".repeat(40)}] #  40, 1 StudyDescription`);
  // 56 characters of text: column 57 is taken, so exactly one space precedes '#'
  const unpadded = dumpLines(parseDataset(bytes, TS.ExplicitVRLittleEndian), true, 0, [], {
    showPadding: false,
  });
  assert.equal(unpadded[3], `(0008,103e) LO [${"S".repeat(39)}] #  40, 1 SeriesDescription`);
  assert.equal(unpadded[3]!.indexOf("#"), 57);
  assert.match(lines[5]!, /\] # 1200, 1 ImageComments$/); // "# %3d": a space even for 4 digits
});

test("sequences: explicit and undefined lengths, three levels, empty items and sequences", (t) => {
  if (!needDcmtk(t)) return;
  const code = (v: string) =>
    rawItem(Buffer.concat([raw(0x00080100, "SH", v), raw(0x00080102, "SH", "DCM ")]));
  const level2 = rawSeq(0x00400008, [code("C1"), rawItem(Buffer.alloc(0), true)], true);
  const level1 = rawItem(Buffer.concat([raw(0x00321060, "LO", "DESC"), level2]), false);
  const deep = rawSeq(
    0x0040a730,
    [
      rawItem(
        Buffer.concat([
          raw(0x0040a010, "CS", "CONTAINS"),
          rawSeq(0x0040a730, [rawItem(raw(0x0040a160, "UT", "text"), true)], false),
        ]),
        true,
      ),
    ],
    true,
  );
  const bytes = Buffer.concat([
    raw(0x00100020, "LO", "P1"),
    deep,
    rawSeq(0x00400275, [level1, rawItem(Buffer.alloc(0))], false),
    rawSeq(0x00400340, [], true),
    rawSeq(0x00400440, [], false),
  ]);
  compareBoth(bytes, TS.ExplicitVRLittleEndian);
  const lines = dumpLines(parseDataset(bytes, TS.ExplicitVRLittleEndian));
  // depth 4: 8 spaces of indentation, '#' in column 57 + 8
  assert.ok(
    lines.includes(`${"        (0040,a160) UT [text]".padEnd(64)}#   4, 1 TextValue`),
    lines.join("\n"),
  );
});

test("private creators, unknown private data, group lengths", (t) => {
  if (!needDcmtk(t)) return;
  const dump = [
    "(0008,0000) UL 34",
    "(0008,0016) UI [1.2.840.10008.5.1.4.1.1.2]",
    "(0009,0000) UL 56",
    "(0009,0005) LO [no creator range]",
    "(0009,0010) LO [ACME 1.0]",
    "(0009,00ff) LO [LAST]",
    "(0009,1010) UN 01\\02",
    "(0009,10ff) US 3",
    "(0009,ff01) LO [LAST BLOCK]",
    "(0011,1001) LO [orphan]", // no creator at all
  ].join("\n");
  compareBoth(dump2dcm(dump, ["-F", "+te", "-g"]), TS.ExplicitVRLittleEndian);
  const withLengths = dump2dcm(dump, ["-F", "+te", "+g"]);
  compareBoth(withLengths, TS.ExplicitVRLittleEndian);
  const lines = dumpLines(parseDataset(withLengths, TS.ExplicitVRLittleEndian));
  assert.equal(
    lines[0],
    "(0008,0000) UL 34                                       #   4, 1 GenericGroupLength",
  );
  assert.match(lines[2]!, /# {3}4, 1 PrivateGroupLength$/);
});

test("encapsulated pixel data: every fragment byte is printed (findscu does not shorten)", (t) => {
  if (!needDcmtk(t)) return;
  const frag = Array.from({ length: 40 }, (_, i) => i.toString(16).padStart(2, "0")).join("\\");
  const file = dump2dcm(
    [
      "(0002,0010) UI =JPEGBaseline",
      "(0008,0016) UI =SecondaryCaptureImageStorage",
      "(0008,0018) UI [1.2.3.4]",
      "(7fe0,0010) OB (PixelSequence #=3)",
      "  (fffe,e000) pi (no value available)",
      `  (fffe,e000) pi ${frag}`,
      "  (fffe,e000) pi 01\\02",
      "(fffe,e0dd) na (SequenceDelimitationItem)",
    ].join("\n"),
    [],
  );
  const { dataset } = parsePart10(file);
  const r = dcmdump(file, ["+L", "-dc"]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(dumpLines(dataset), dataLines(r.text));
});

test("element names agree with DCMTK's dictionary for common query and retrieve attributes", (t) => {
  const dic = dcmtkDictionary();
  if (!dic) {
    t.skip("DCMTK's dicom.dic not found");
    return;
  }
  const keywords = [
    "SpecificCharacterSet",
    "ImageType",
    "SOPClassUID",
    "SOPInstanceUID",
    "StudyDate",
    "SeriesDate",
    "AcquisitionDate",
    "ContentDate",
    "StudyTime",
    "SeriesTime",
    "AccessionNumber",
    "QueryRetrieveLevel",
    "RetrieveAETitle",
    "InstanceAvailability",
    "Modality",
    "ModalitiesInStudy",
    "SOPClassesInStudy",
    "Manufacturer",
    "InstitutionName",
    "ReferringPhysicianName",
    "StationName",
    "StudyDescription",
    "SeriesDescription",
    "InstitutionalDepartmentName",
    "PerformingPhysicianName",
    "OperatorsName",
    "ManufacturerModelName",
    "ReferencedStudySequence",
    "ReferencedSOPClassUID",
    "ReferencedSOPInstanceUID",
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "PatientBirthDate",
    "PatientBirthTime",
    "PatientSex",
    "PatientAge",
    "PatientSize",
    "PatientWeight",
    "EthnicGroup",
    "PatientComments",
    "BodyPartExamined",
    "ProtocolName",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "StudyID",
    "SeriesNumber",
    "AcquisitionNumber",
    "InstanceNumber",
    "NumberOfPatientRelatedStudies",
    "NumberOfPatientRelatedSeries",
    "NumberOfPatientRelatedInstances",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
    "NumberOfSeriesRelatedInstances",
    "Rows",
    "Columns",
    "ScheduledProcedureStepSequence",
    "ScheduledStationAETitle",
    "ScheduledProcedureStepStartDate",
    "ScheduledProcedureStepStartTime",
    "ScheduledPerformingPhysicianName",
    "ScheduledProcedureStepDescription",
    "ScheduledProcedureStepID",
    "RequestedProcedureID",
    "RequestedProcedureDescription",
    "RequestAttributesSequence",
    "ContentSequence",
    "dBdt",
    "DataSetType",
    "NetworkID",
  ];
  for (const k of keywords) {
    const tag = lookupKeyword(k)!.tag;
    assert.equal(describeTag(tag)!.dumpName, dic.get(tag)?.name, `${k} ${tagDcmtk(tag)}`);
  }
});

test("element names for the whole dictionary agree with DCMTK 3.6.7", {}, (t) => {
  const dic = dcmtkDictionary();
  if (!dic) {
    t.skip("DCMTK's dicom.dic not found");
    return;
  }
  const differ: string[] = [];
  for (const k of allKeywords()) {
    const e = lookupKeyword(k)!;
    const theirs = dic.get(e.tag)?.name ?? "Unknown Tag & Data";
    if (
      theirs !== dcmtkDumpName(e.tag) &&
      (e.tag & 0xff000000) !== 0x50000000 &&
      (e.tag & 0xff000000) !== 0x60000000
    )
      differ.push(`${tagDcmtk(e.tag)} ${e.dumpName} ≠ ${theirs}`);
  }
  assert.deepEqual(differ, []);
});

// ---------------------------------------------------------------- documented differences

test("unpadded mode removes exactly one padding byte; dcmdump strips every trailing space", (t) => {
  if (!needDcmtk(t)) return;
  // Values our encoder pads (odd length + one byte) show exactly like dcmdump shows them.
  const ds = new Dataset();
  ds.set(textElement(0x00080052, "CS", "STUDY"));
  ds.set(textElement(0x0020000d, "UI", "1.2.3"));
  ds.set(textElement(0x00100020, "LO", "PAT01"));
  ds.set(numberElement(0x00280010, "US", 512));
  const bytes = Buffer.concat(ds.elements.map((e) => raw(e.tag, e.vr, e.value!, EXPLICIT_LE)));
  assert.deepEqual(dumpLines(ds, true, 0, [], { showPadding: false }), peerLines(bytes));
  assert.ok(
    dumpLines(ds, true, 0, [], { showPadding: false }).includes(
      "(0008,0052) CS [STUDY]                                  #   6, 1 QueryRetrieveLevel",
    ),
  );
  // Difference: a value that carries more than one trailing space (or a NUL in a
  // non-UI value) keeps all but one in our unpadded mode, while dcmdump's input
  // correction strips every trailing space (and keeps NULs). Our mode serves the
  // request dump, where only our own single padding byte needs removing.
  const odd = Buffer.concat([raw(0x00100010, "PN", "A^B\0"), raw(0x00100020, "LO", "AB  ")]);
  const ours = dumpLines(parseDataset(odd, TS.ExplicitVRLittleEndian), true, 0, [], {
    showPadding: false,
  });
  const peer = peerLines(odd);
  assert.equal(
    ours[0],
    "(0010,0010) PN [A^B]                                    #   4, 1 PatientName",
  );
  assert.equal(
    peer[0],
    "(0010,0010) PN [A^B\0]                                   #   4, 1 PatientName",
  );
  assert.equal(
    ours[1],
    "(0010,0020) LO [AB ]                                    #   4, 1 PatientID",
  );
  assert.equal(
    peer[1],
    "(0010,0020) LO [AB]                                     #   4, 1 PatientID",
  );
});

test("FL/FD values that are not short binary fractions print like DCMTK", {
  todo: "DCMTK's OFStandard::ftoa stops digit generation early for some values (FD 1e-7 → 1e-07, 1/3 → 16 digits) where %.17g prints 17; we print %.9g/%.17g (3.14 and FL 0.1 already match)",
}, (t) => {
  if (!needDcmtk(t)) return;
  const f64 = (...v: number[]) =>
    Buffer.concat(
      v.map((x) => {
        const b = Buffer.alloc(8);
        b.writeDoubleLE(x);
        return b;
      }),
    );
  const f32 = (...v: number[]) =>
    Buffer.concat(
      v.map((x) => {
        const b = Buffer.alloc(4);
        b.writeFloatLE(x);
        return b;
      }),
    );
  const bytes = Buffer.concat([
    raw(0x00189087, "FD", f64(3.14, 1e-7, 1 / 3)),
    raw(0x00700022, "FL", f32(0.1, 3.4028234663852886e38)),
  ]);
  assert.deepEqual(dumpLines(parseDataset(bytes, TS.ExplicitVRLittleEndian)), peerLines(bytes));
});

test("an element with a non-standard VR prints its bytes in hex, as OB and UN do", () => {
  const ds = parseDataset(
    Buffer.concat([
      raw(0x00100010, "PN", "DOE^JOHN"),
      raw(0x00111010, "XX", Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])),
    ]),
    TS.ExplicitVRLittleEndian,
  );
  assert.deepEqual(dumpLines(ds), [
    "(0010,0010) PN [DOE^JOHN]                               #   8, 1 PatientName",
    "(0011,1010) XX 01\\02\\03\\04\\05\\06\\07\\08\\09\\0a".padEnd(56) +
      "#  10, 1 Unknown Tag & Data",
  ]);
});
