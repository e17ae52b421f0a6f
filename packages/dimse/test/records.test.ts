// Record conversion (src/records/flat.ts): the strict PS3.18 JSON model
// against DCMTK's dcm2json, the flat record rules of conventions.md §5.2,
// round trips, and the input forms of §5.3.
//
// dcm2json 3.6.7 has no IS/DS number options (the --is-ds-* flags came
// later): it always writes IS and DS as JSON numbers, normalised to valid
// JSON (".5" → 0.5), and it converts all text to UTF-8, setting Specific
// Character Set to "ISO_IR 192". Our --json-model keeps IS/DS as strings
// with the original text (PS3.18 Table F.2.3-1 allows both), so the
// comparison turns our IS/DS strings into numbers; a second check keeps
// dcm2json's number tokens as text where it copies them verbatim.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Dataset,
  TransferSyntax,
  encodeDataset,
  parseDataset,
  textElement,
} from "../src/dicom/index.js";
import {
  METADATA_KEYS,
  RecordError,
  datasetToFlat,
  datasetToPs318,
  isMetadataKey,
  recordKeyOrder,
  recordMetadata,
  recordToDataset,
  serializeRecord,
  type FlatRecord,
} from "../src/records/index.js";
import {
  SAMPLE_DUMP,
  dataLines,
  dcm2json,
  dcmdump,
  dcmtkDictionary,
  dump2dcm,
  needDcmtk,
  ourPart10,
} from "./helpers.js";

const TS = TransferSyntax;

/** Round-trip fixture: UTF-8 (dcm2json leaves it as is), canonical DS text, private group 2001. */
const RT_DUMP = String.raw`
(0008,0005) CS [ISO_IR 192]
(0008,0008) CS [ORIGINAL\PRIMARY]
(0008,0016) UI [1.2.840.10008.5.1.4.1.1.2]
(0008,0018) UI [1.2.3.4.5]
(0008,0020) DA [20240131]
(0008,0030) TM [101530.123]
(0008,0052) CS [STUDY]
(0008,0061) CS [CT]
(0008,0090) PN (no value available)
(0008,1030) LO [Étude ñ 山]
(0009,0010) LO [ACME 1.0]
(0009,1001) LO [vendor]
(0009,1002) US 7\8
(0010,0010) PN [Yamada^Tarou=山田^太郎=やまだ^たろう]
(0010,0020) LO [PAT001]
(0010,1001) PN [Doe^J\=Ideo^Only\Roe^R]
(0018,0050) DS [1.5]
(0018,1310) US 0\256\256\0
(0018,1318) DS [3.5]
(0018,6020) SL -70000
(0018,9087) FD 0.5
(0020,000d) UI [1.2.3]
(0020,0013) IS [42]
(0020,0032) DS [-125.5\-100\42.25]
(0020,4000) LT [  lead kept]
(0028,0009) AT (0018,1063)\(7fe0,0010)
(0028,0034) IS [1\1]
(0028,1201) OW 0001\0203\fffe
(0028,9503) SS -2\3
(0040,0275) SQ (Sequence with explicit length #=2)
  (fffe,e000) na (Item with explicit length #=3)
    (0032,1060) LO [Chest CT]
    (0040,0008) SQ (Sequence with explicit length #=1)
      (fffe,e000) na (Item with explicit length #=3)
        (0008,0100) SH [P1]
        (0008,0102) SH [99LOCAL]
        (0008,0104) LO [Protocol Ü]
      (fffe,e00d) na (ItemDelimitationItem for re-encoding)
    (fffe,e0dd) na (SequenceDelimitationItem for re-encod.)
    (0040,1001) SH [RP1]
  (fffe,e00d) na (ItemDelimitationItem for re-encoding)
  (fffe,e000) na (Item with explicit length #=0)
  (fffe,e00d) na (ItemDelimitationItem for re-encoding)
(fffe,e0dd) na (SequenceDelimitationItem for re-encod.)
(0040,0440) SQ (Sequence with explicit length #=0)
(fffe,e0dd) na (SequenceDelimitationItem for re-encod.)
(0042,0011) OB 01\02\03\04\05\06
(0070,0022) FL 1.5\-2.25
(0072,0078) UL 4294967295\0
(2001,0010) LO [ACME 2.0]
(2001,1001) LO [twenty]
(2001,10ff) SQ (Sequence with explicit length #=1)
  (fffe,e000) na (Item with explicit length #=3)
    (0008,1150) UI [1.2.840.10008.5.1.4.1.1.4]
    (2001,0010) LO [ACME 2.0]
    (2001,1003) LO [inner]
  (fffe,e00d) na (ItemDelimitationItem for re-encoding)
(fffe,e0dd) na (SequenceDelimitationItem for re-encod.)
`.trimStart();

// dump2dcm reads its input as bytes: write UTF-8 text as its latin1 image.
const utf8Dump = (s: string) => Buffer.from(s, "utf8").toString("latin1");
let rtBytes: Buffer | undefined;
const rt = () => (rtBytes ??= dump2dcm(utf8Dump(RT_DUMP), ["-F", "+te"]));
let sampleBytes: Buffer | undefined;
const sample = () => (sampleBytes ??= dump2dcm(SAMPLE_DUMP, ["-F", "+te"]));

type Json = Record<string, { vr: string; Value?: unknown[]; InlineBinary?: string }>;

/** Our PS3.18 object with IS/DS strings turned into numbers (dcm2json 3.6.7's only mode). */
function numbersForIsDs(o: unknown): unknown {
  if (Array.isArray(o)) return o.map(numbersForIsDs);
  if (typeof o !== "object" || o === null) return o;
  const rec = o as Record<string, unknown>;
  if (typeof rec.vr === "string") {
    if ((rec.vr === "IS" || rec.vr === "DS") && Array.isArray(rec.Value))
      return { ...rec, Value: rec.Value.map((v) => (v === null ? null : Number(v))) };
    if (rec.vr === "SQ" && Array.isArray(rec.Value))
      return { ...rec, Value: rec.Value.map(numbersForIsDs) };
    return rec;
  }
  return Object.fromEntries(Object.entries(rec).map(([k, v]) => [k, numbersForIsDs(v)]));
}

/** dcm2json's compact output with IS/DS number tokens kept as their text. */
function dcm2jsonIsDsAsText(text: string): Json {
  return JSON.parse(
    text.replace(
      /("vr":"(?:IS|DS)","Value":\[)([^\]]*)\]/g,
      (_, head: string, list: string) =>
        head +
        list
          .split(",")
          .map((tok) => (tok === "null" ? tok : JSON.stringify(tok)))
          .join(",") +
        "]",
    ),
  );
}

test("datasetToPs318 equals dcm2json (UTF-8 data, IS/DS compared as numbers)", (t) => {
  if (!needDcmtk(t)) return;
  const ds = parseDataset(rt(), TS.ExplicitVRLittleEndian);
  const theirs = JSON.parse(dcm2json(rt()));
  assert.deepEqual(numbersForIsDs(datasetToPs318(ds, { bulk: "inline" })), theirs);
  // binary values are left out unless asked for
  assert.deepEqual(datasetToPs318(ds)["00420011"], { vr: "OB" });
  assert.deepEqual(datasetToPs318(ds, { bulk: "inline" })["00420011"], {
    vr: "OB",
    InlineBinary: "AQIDBAUG",
  });
});

test("datasetToPs318 keeps IS/DS text exactly where dcm2json copies it", (t) => {
  if (!needDcmtk(t)) return;
  const bytes = dump2dcm(String.raw`
(0018,0050) DS [1.50]
(0020,0013) IS [42]
(0028,1050) DS [1e3\40]
(0028,1051) DS [-12.250]`);
  const ours = datasetToPs318(parseDataset(bytes, TS.ExplicitVRLittleEndian));
  assert.deepEqual(ours, dcm2jsonIsDsAsText(dcm2json(bytes)));
  assert.deepEqual(ours["00180050"], { vr: "DS", Value: ["1.50"] });
  // dcm2json itself normalises some text ("0042" → 42, "-.5" → -0.5, "1e+04" → 1e04); we keep it
  const norm = datasetToPs318(
    parseDataset(
      dump2dcm("(0020,0013) IS [0042]\n(0028,1050) DS [-.5\\1e+04]"),
      TS.ExplicitVRLittleEndian,
    ),
  );
  assert.deepEqual(norm, {
    "00200013": { vr: "IS", Value: ["0042"] },
    "00281050": { vr: "DS", Value: ["-.5", "1e+04"] },
  });
});

test("datasetToPs318 on Latin-1, big endian and implicit data equals dcm2json", (t) => {
  if (!needDcmtk(t)) return;
  for (const [opt, ts, little] of [
    ["+te", TS.ExplicitVRLittleEndian, true],
    ["+tb", TS.ExplicitVRBigEndian, false],
    ["+ti", TS.ImplicitVRLittleEndian, true],
  ] as const) {
    const bytes = dump2dcm(SAMPLE_DUMP, ["-F", opt]);
    const ours = numbersForIsDs(
      datasetToPs318(parseDataset(bytes, ts), { little, bulk: "inline" }),
    ) as Json;
    const theirs = JSON.parse(dcm2json(bytes, opt === "+tb" ? ["-f", "-tb"] : [])) as Json;
    // dcm2json converts Latin-1 to UTF-8 and says so in Specific Character Set;
    // our strings are already decoded, the attribute keeps its original value.
    assert.deepEqual(theirs["00080005"], { vr: "CS", Value: ["ISO_IR 192"] });
    assert.deepEqual(ours["00080005"], { vr: "CS", Value: ["ISO_IR 100"] });
    delete theirs["00080005"];
    delete ours["00080005"];
    if (opt === "+ti") {
      // implicit VR: the unknown private element is UN for both
      assert.deepEqual(theirs["00091001"], {
        vr: "UN",
        InlineBinary: Buffer.from("vendor").toString("base64"),
      });
    }
    assert.deepEqual(ours, theirs, opt);
  }
});

test("PN component groups, empty values inside multi-values, leading spaces (dcm2json)", (t) => {
  if (!needDcmtk(t)) return;
  const bytes = dump2dcm(
    utf8Dump(String.raw`
(0008,0005) CS [ISO_IR 192]
(0008,0061) CS [CT\\MR]
(0008,1030) LO [ lead and trail ]
(0010,0010) PN [Yamada^Tarou=山田^太郎=やまだ^たろう\=Only^Ideo\==Phon]
(0020,4000) LT [  lead kept]
(0040,0275) SQ (Sequence with explicit length #=0)
(fffe,e0dd) na (SequenceDelimitationItem for re-encod.)`),
  );
  const ours = datasetToPs318(parseDataset(bytes, TS.ExplicitVRLittleEndian));
  assert.deepEqual(ours, JSON.parse(dcm2json(bytes)));
  assert.deepEqual(ours["00100010"]!.Value, [
    { Alphabetic: "Yamada^Tarou", Ideographic: "山田^太郎", Phonetic: "やまだ^たろう" },
    { Ideographic: "Only^Ideo" },
    { Phonetic: "Phon" },
  ]);
  assert.deepEqual(ours["00080061"]!.Value, ["CT", null, "MR"]);
  assert.deepEqual(ours["00400275"], { vr: "SQ" });
});

// ---------------------------------------------------------------- flat records

/**
 * The flat record conventions.md §5.2 prescribes, derived independently:
 * values from dcm2json, keywords and VM from DCMTK's own dictionary.
 */
function expectedFlat(j: Json, bulk = false): FlatRecord {
  const dic = dcmtkDictionary()!;
  const out: FlatRecord = {};
  for (const [hex, attr] of Object.entries(j)) {
    const tag = parseInt(hex, 16);
    const entry = dic.get(tag);
    if ((tag >>> 16) % 2 === 1 || !entry || /^(O[BWFDLV]|UN)$/.test(attr.vr)) {
      out[hex] = bulk || attr.InlineBinary === undefined ? attr : { vr: attr.vr };
      continue;
    }
    const keyword = entry.name.replace(/^RETIRED_/, "");
    if (attr.vr === "SQ") {
      out[keyword] = (attr.Value ?? []).map((item) => expectedFlat(item as Json, bulk));
      continue;
    }
    if (!attr.Value) {
      out[keyword] = null;
      continue;
    }
    const values = attr.Value.map((v) => {
      if (attr.vr !== "PN" || v === null) return v;
      const p = v as Record<string, string>;
      return [p.Alphabetic ?? "", p.Ideographic ?? "", p.Phonetic ?? ""]
        .join("=")
        .replace(/=+$/, "");
    });
    out[keyword] = entry.vm !== "1" || values.length > 1 ? values : values[0];
  }
  return out;
}

test("datasetToFlat follows §5.2: keywords, VM from the dictionary, numbers, null, arrays, private objects", (t) => {
  if (!needDcmtk(t) || !dcmtkDictionary()) return;
  for (const [bytes, fixCharset] of [
    [rt(), false],
    [sample(), true],
  ] as const) {
    const ds = parseDataset(bytes, TS.ExplicitVRLittleEndian);
    const expected = expectedFlat(JSON.parse(dcm2json(bytes)));
    if (fixCharset) expected.SpecificCharacterSet = ["ISO_IR 100"]; // see the file header
    assert.deepEqual(datasetToFlat(ds), expected);
    const withBulk = expectedFlat(JSON.parse(dcm2json(bytes)), true);
    if (fixCharset) withBulk.SpecificCharacterSet = ["ISO_IR 100"];
    assert.deepEqual(datasetToFlat(ds, { bulk: "inline" }), withBulk);
  }
});

test("datasetToFlat: the values §5.2 spells out", (t) => {
  if (!needDcmtk(t)) return;
  const flat = datasetToFlat(parseDataset(rt(), TS.ExplicitVRLittleEndian));
  assert.deepEqual(flat.ModalitiesInStudy, ["CT"]); // VM 1-n: array even for one value
  assert.deepEqual(flat.ImageType, ["ORIGINAL", "PRIMARY"]);
  assert.deepEqual(flat.SpecificCharacterSet, ["ISO_IR 192"]);
  assert.equal(flat.PatientName, "Yamada^Tarou=山田^太郎=やまだ^たろう"); // PN: Part 5 string
  assert.deepEqual(flat.OtherPatientNames, ["Doe^J", "=Ideo^Only", "Roe^R"]);
  assert.equal(flat.SliceThickness, 1.5); // DS → number
  assert.equal(flat.InstanceNumber, 42); // IS → number
  assert.deepEqual(flat.ImagePositionPatient, [-125.5, -100, 42.25]);
  assert.deepEqual(flat.PixelAspectRatio, [1, 1]); // VM 2
  assert.equal(flat.StudyDate, "20240131"); // DA, TM stay strings
  assert.equal(flat.StudyTime, "101530.123");
  assert.equal(flat.ReferringPhysicianName, null); // empty → null
  assert.equal(flat.ImageComments, "  lead kept"); // LT: leading spaces significant
  assert.equal(flat.dBdt, 3.5); // the one lower-case keyword
  assert.deepEqual(flat.FrameIncrementPointer, ["00181063", "7FE00010"]); // AT: 8-hex
  assert.deepEqual(flat.AcquisitionMatrix, [0, 256, 256, 0]);
  assert.equal(flat.ReferencePixelX0, -70000);
  assert.deepEqual(flat.ProtocolContextSequence, []); // zero items
  const seq = flat.RequestAttributesSequence as FlatRecord[];
  assert.equal(seq.length, 2);
  assert.deepEqual(seq[1], {});
  assert.deepEqual(seq[0]!.ScheduledProtocolCodeSequence, [
    { CodeValue: "P1", CodingSchemeDesignator: "99LOCAL", CodeMeaning: "Protocol Ü" },
  ]);
  assert.deepEqual(flat["00090010"], { vr: "LO", Value: ["ACME 1.0"] });
  assert.deepEqual(flat["00091002"], { vr: "US", Value: [7, 8] });
  assert.deepEqual(flat["00281201"], { vr: "OW" }); // binary omitted by default
  assert.deepEqual(flat["20011001"], { vr: "LO", Value: ["twenty"] });
  assert.equal("PixelData" in flat, false); // absent → omitted
});

test("datasetToFlat: IS/DS that are not numbers stay strings; group lengths are dropped", () => {
  const ds = new Dataset();
  ds.set({ tag: 0x00080000, vr: "UL", value: Buffer.from([4, 0, 0, 0]) });
  ds.set(textElement(0x00200013, "IS", "1.5")); // not an integer
  ds.set(textElement(0x00180050, "DS", "abc"));
  ds.set(textElement(0x00281050, "DS", ["1e3", "-.5", "+2"]));
  ds.set(textElement(0x00200011, "IS", " 007 "));
  const flat = datasetToFlat(ds);
  assert.deepEqual(flat, {
    SliceThickness: "abc",
    SeriesNumber: 7,
    InstanceNumber: "1.5",
    WindowCenter: [1000, -0.5, 2],
  });
});

// The example lines of conventions.md §5.2, built from DICOM data.
test("serializeRecord reproduces the example records of conventions.md §5.2", (t) => {
  if (!needDcmtk(t)) return;
  const study = dump2dcm(String.raw`
(0008,0020) DA [20240131]
(0008,0052) CS [STUDY]
(0008,0061) CS [CT\SR]
(0010,0010) PN [Doe^John]
(0010,0020) LO [00123]
(0020,000d) UI [1.2.3]
(0020,1208) IS [42]`);
  assert.equal(
    serializeRecord(datasetToFlat(parseDataset(study, TS.ExplicitVRLittleEndian))),
    `{"StudyDate":"20240131","QueryRetrieveLevel":"STUDY","ModalitiesInStudy":["CT","SR"],"PatientName":"Doe^John","PatientID":"00123","StudyInstanceUID":"1.2.3","NumberOfStudyRelatedInstances":42}`,
  );
  const stored = dump2dcm(`
(0008,0016) UI [1.2.840.10008.5.1.4.1.1.2]
(0008,0018) UI [1.2.3.4]
(0009,1010) LO [vendor]
(0020,000d) UI [1.2.3]`);
  const rec = {
    path: "in/1.2.3/1.2.3.4.dcm",
    sourceAet: "CT01",
    ...datasetToFlat(parseDataset(stored, TS.ExplicitVRLittleEndian)),
  };
  assert.equal(
    serializeRecord(rec),
    `{"path":"in/1.2.3/1.2.3.4.dcm","sourceAet":"CT01","SOPClassUID":"1.2.840.10008.5.1.4.1.1.2","SOPInstanceUID":"1.2.3.4","00091010":{"vr":"LO","Value":["vendor"]},"StudyInstanceUID":"1.2.3"}`,
  );
  assert.equal(
    serializeRecord({ StudyInstanceUID: "1.2.3", count: 421 }),
    `{"count":421,"StudyInstanceUID":"1.2.3"}`,
  );
  assert.equal(
    serializeRecord({
      StudyInstanceUID: "1.2.3",
      status: "Warning",
      statusCode: "0xB000",
      completed: 118,
      failed: 2,
      warning: 0,
    }),
    `{"status":"Warning","statusCode":"0xB000","completed":118,"failed":2,"warning":0,"StudyInstanceUID":"1.2.3"}`,
  );
});

test("key order: metadata first, then tag order, also for integer-like keys (group 2001) and nested items", (t) => {
  if (!needDcmtk(t)) return;
  // Plain objects put integer-like keys ("20011001") first; serializeRecord must not.
  const flat = datasetToFlat(parseDataset(rt(), TS.ExplicitVRLittleEndian));
  assert.deepEqual(
    Object.keys(flat).slice(0, 2),
    ["20010010", "20011001"],
    "the JavaScript object order this test guards against",
  );
  const line = serializeRecord({ ...flat, status: "Success", path: "x.dcm" });
  const keys = topLevelKeys(line);
  assert.deepEqual(keys.slice(0, 2), ["status", "path"]);
  const tags = keys.slice(2).map((k) => (/^[0-9A-F]{8}$/.test(k) ? k : hexOfKeyword(k)));
  assert.deepEqual(tags, [...tags].sort());
  assert.deepEqual(keys.slice(-3), ["20010010", "20011001", "200110FF"]);
  // inside the private sequence (a PS3.18 object) items keep tag order too
  assert.match(
    line,
    /"200110FF":\{"vr":"SQ","Value":\[\{"00081150":\{"vr":"UI","Value":\["1\.2\.840\.10008\.5\.1\.4\.1\.1\.4"\]\},"20010010":/,
  );
  // and in the strict JSON model
  const strict = serializeRecord(
    datasetToPs318(parseDataset(rt(), TS.ExplicitVRLittleEndian)) as FlatRecord,
  );
  assert.deepEqual(topLevelKeys(strict), [...topLevelKeys(strict)].sort());
  assert.ok(strict.indexOf('"00081150"') < strict.indexOf('"20011003"'));
  assert.equal(
    JSON.stringify(JSON.parse(strict)).length,
    strict.length,
    "still valid compact JSON",
  );
  // unknown keys are not attributes: they sort with the metadata, in input order
  assert.deepEqual(
    recordKeyOrder({ PatientID: "p", zzz: 1, "00100010": { vr: "PN" }, error: "e" }),
    ["zzz", "error", "00100010", "PatientID"],
  );
});

function topLevelKeys(json: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '"') {
      let j = i + 1;
      while (json[j] !== '"') j += json[j] === "\\" ? 2 : 1;
      if (depth === 1 && json[j + 1] === ":") keys.push(JSON.parse(json.slice(i, j + 1)) as string);
      i = j;
    } else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") depth--;
  }
  return keys;
}

function hexOfKeyword(k: string): string {
  const dic = dcmtkDictionary();
  for (const [tag, e] of dic ?? [])
    if (e.name.replace(/^RETIRED_/, "") === k)
      return tag.toString(16).toUpperCase().padStart(8, "0");
  throw new Error(`no tag for ${k}`);
}

// ---------------------------------------------------------------- round trips

test("round trip flat → dataset → flat and PS3.18 → dataset → PS3.18", (t) => {
  if (!needDcmtk(t)) return;
  for (const bytes of [rt(), sample()]) {
    const ds = parseDataset(bytes, TS.ExplicitVRLittleEndian);
    for (const bulk of ["omit", "inline"] as const) {
      const flat = datasetToFlat(ds, { bulk });
      assert.deepEqual(datasetToFlat(recordToDataset(flat), { bulk }), flat);
      const ps = datasetToPs318(ds, { bulk });
      assert.deepEqual(datasetToPs318(recordToDataset(ps), { bulk }), ps);
      // and through JSON text, as records travel
      assert.deepEqual(
        datasetToFlat(recordToDataset(JSON.parse(serializeRecord(flat))), { bulk }),
        flat,
      );
    }
  }
});

test("dcm2json output → recordToDataset → encode: dcmdump shows the original data set", (t) => {
  if (!needDcmtk(t)) return;
  const original = dataLines(dcmdump(rt(), ["-f", "+L"]).text);
  // numbers mode (what JSON.parse gives): exact because RT_DUMP's DS values are canonical
  const fromNumbers = recordToDataset(JSON.parse(dcm2json(rt())));
  const r1 = dcmdump(ourPart10(fromNumbers, TS.ExplicitVRLittleEndian), ["+L"]);
  assert.equal(r1.stderr, "");
  assert.deepEqual(dataLines(r1.text), original);
  // strings mode: dcm2json's IS/DS tokens kept as text
  const fromText = recordToDataset(dcm2jsonIsDsAsText(dcm2json(rt())));
  assert.deepEqual(
    encodeDataset(fromText, TS.ExplicitVRLittleEndian),
    rt(),
    "byte-identical re-encoding",
  );
  // numbers lose only the formatting of DS: "1.50" comes back as "1.5"
  const ds150 = dump2dcm("(0018,0050) DS [1.50]\n(0020,0013) IS [42]");
  const back = recordToDataset(JSON.parse(dcm2json(ds150)));
  assert.equal(back.string(0x00180050), "1.5");
  assert.equal(back.string(0x00200013), "42");
  assert.equal(recordToDataset(dcm2jsonIsDsAsText(dcm2json(ds150))).string(0x00180050), "1.50");
});

// ---------------------------------------------------------------- accepted input forms

/** What DCMTK lists for dump text, and what it lists for our dataset: must be equal. */
function assertSameAsDump(ds: Dataset, dump: string, msg?: string): void {
  const expected = dataLines(dcmdump(dump2dcm(utf8Dump(dump)), ["-f", "+L"]).text);
  const r = dcmdump(ourPart10(ds, TS.ExplicitVRLittleEndian), ["+L"]);
  assert.equal(r.stderr, "", msg);
  assert.deepEqual(dataLines(r.text), expected, msg);
}

const FORMS_DUMP = String.raw`
(0008,0008) CS [ORIGINAL\PRIMARY]
(0008,0020) DA [20240131]
(0008,0061) CS [CT\MR]
(0008,0090) PN (no value available)
(0008,1110) SQ (Sequence with explicit length #=1)
  (fffe,e000) na (Item with explicit length #=2)
    (0008,1150) UI [1.2.840.10008.3.1.2.3.1]
    (0008,1155) UI [1.2.3.9]
  (fffe,e00d) na (ItemDelimitationItem for re-encoding)
(fffe,e0dd) na (SequenceDelimitationItem for re-encod.)
(0009,0010) LO [ACME 1.0]
(0009,1001) LO [vendor]
(0010,0010) PN [Doe^John=ド^ジョン]
(0010,0020) LO [00123]
(0018,0050) DS [1.496995e+04]
(0020,0013) IS [42]
(0028,0010) US 512
(0028,0030) DS [0.5\0.5]
`.trimStart();

test("input forms: flat, Orthanc simplified, dcmjs naturalised, Orthanc /tags and PS3.18 give the same data set", (t) => {
  if (!needDcmtk(t)) return;
  const dump = `(0008,0005) CS [ISO_IR 192]\n${FORMS_DUMP}`;
  const privateAttrs = {
    "00090010": { vr: "LO", Value: ["ACME 1.0"] },
    "00091001": { vr: "LO", Value: ["vendor"] },
  };
  const flat = {
    ImageType: ["ORIGINAL", "PRIMARY"],
    StudyDate: "20240131",
    ModalitiesInStudy: ["CT", "MR"],
    ReferringPhysicianName: null,
    ReferencedStudySequence: [
      { ReferencedSOPClassUID: "1.2.840.10008.3.1.2.3.1", ReferencedSOPInstanceUID: "1.2.3.9" },
    ],
    ...privateAttrs,
    PatientName: "Doe^John=ド^ジョン",
    PatientID: "00123",
    SliceThickness: "1.496995e+04",
    InstanceNumber: 42,
    Rows: 512,
    PixelSpacing: [0.5, 0.5],
  };
  assertSameAsDump(recordToDataset(flat), dump, "flat");
  const orthancSimplified = {
    ImageType: "ORIGINAL\\PRIMARY", // backslash-joined multi-values
    StudyDate: "20240131",
    ModalitiesInStudy: "CT\\MR",
    ReferringPhysicianName: null,
    ReferencedStudySequence: [
      { ReferencedSOPClassUID: "1.2.840.10008.3.1.2.3.1", ReferencedSOPInstanceUID: "1.2.3.9" },
    ],
    ...privateAttrs,
    PatientName: "Doe^John=ド^ジョン",
    PatientID: "00123",
    SliceThickness: "1.496995e+04", // IS/DS as strings
    InstanceNumber: "42",
    Rows: "512",
    PixelSpacing: "0.5\\0.5",
  };
  assertSameAsDump(recordToDataset(orthancSimplified), dump, "Orthanc simplified");
  const dcmjsNaturalised = {
    _vrMap: { PixelData: "OW" },
    ImageType: ["ORIGINAL", "PRIMARY"],
    StudyDate: "20240131",
    ModalitiesInStudy: ["CT", "MR"],
    ReferringPhysicianName: [],
    ReferencedStudySequence: {
      ReferencedSOPClassUID: "1.2.840.10008.3.1.2.3.1",
      ReferencedSOPInstanceUID: "1.2.3.9",
    }, // single item, not wrapped
    ...privateAttrs,
    PatientName: [{ Alphabetic: "Doe^John", Ideographic: "ド^ジョン" }],
    PatientID: "00123",
    SliceThickness: 14969.95,
    InstanceNumber: 42,
    Rows: 512,
    PixelSpacing: [0.5, 0.5],
  };
  // dcmjs turned "1.496995e+04" into 14969.95: only the DS text differs
  assertSameAsDump(
    recordToDataset(dcmjsNaturalised),
    dump.replace("1.496995e+04", "14969.95"),
    "dcmjs",
  );
  const orthancTags = {
    "0008,0008": { Name: "ImageType", Type: "String", Value: "ORIGINAL\\PRIMARY" },
    "0008,0020": { Name: "StudyDate", Type: "String", Value: "20240131" },
    "0008,0061": { Name: "ModalitiesInStudy", Type: "String", Value: "CT\\MR" },
    "0008,0090": { Name: "ReferringPhysicianName", Type: "Null", Value: null },
    "0008,1110": {
      Name: "ReferencedStudySequence",
      Type: "Sequence",
      Value: [
        {
          "0008,1150": {
            Name: "ReferencedSOPClassUID",
            Type: "String",
            Value: "1.2.840.10008.3.1.2.3.1",
          },
          "0008,1155": { Name: "ReferencedSOPInstanceUID", Type: "String", Value: "1.2.3.9" },
        },
      ],
    },
    ...privateAttrs,
    "0010,0010": { Name: "PatientName", Type: "String", Value: "Doe^John=ド^ジョン" },
    "0010,0020": { Name: "PatientID", Type: "String", Value: "00123" },
    "0018,0050": { Name: "SliceThickness", Type: "String", Value: "1.496995e+04" },
    "0020,0013": { Name: "InstanceNumber", Type: "String", Value: "42" },
    "0028,0010": { Name: "Rows", Type: "String", Value: "512" },
    "0028,0030": { Name: "PixelSpacing", Type: "String", Value: "0.5\\0.5" },
  };
  assertSameAsDump(recordToDataset(orthancTags), dump, "Orthanc /tags");
  // PS3.18 as dcm2json writes it for the same dump (IS/DS as text) → same data set
  const ps = dcm2jsonIsDsAsText(dcm2json(dump2dcm(utf8Dump(dump))));
  assert.deepEqual(ps["00180050"], { vr: "DS", Value: ["1.496995e04"] }); // dcm2json's rewrite of the exponent
  assertSameAsDump(recordToDataset(ps), dump.replace("1.496995e+04", "1.496995e04"), "PS3.18");
  // PN object given directly (not in an array)
  assertSameAsDump(
    recordToDataset({ ...flat, PatientName: { Alphabetic: "Doe^John", Ideographic: "ド^ジョン" } }),
    dump,
    "PN object",
  );
});

test("recordToDataset chooses Specific Character Set from the text", (t) => {
  if (!needDcmtk(t)) return;
  const ascii = recordToDataset({ PatientName: "Doe^John" });
  assert.equal(ascii.has(0x00080005), false);
  const latin = recordToDataset({ PatientName: "Müller^Jürgen", StudyDescription: "Ça" });
  const expected = dataLines(
    dcmdump(
      dump2dcm("(0008,0005) CS [ISO_IR 100]\n(0008,1030) LO [Ça]\n(0010,0010) PN [Müller^Jürgen]"),
      ["-f"],
    ).text,
  );
  assert.deepEqual(
    dataLines(dcmdump(ourPart10(latin, TS.ExplicitVRLittleEndian), []).text),
    expected,
  );
  const cjk = recordToDataset({
    PatientName: "山田^太郎",
    StudyDescription: "Ça",
    RequestAttributesSequence: [{ RequestedProcedureDescription: "Müller" }],
  });
  assertSameAsDump(
    cjk,
    "(0008,0005) CS [ISO_IR 192]\n(0008,1030) LO [Ça]\n(0010,0010) PN [山田^太郎]\n(0040,0275) SQ (Sequence with explicit length #=1)\n  (fffe,e000) na (Item with explicit length #=1)\n    (0032,1060) LO [Müller]\n  (fffe,e00d) na (ItemDelimitationItem for re-encoding)\n(fffe,e0dd) na (SequenceDelimitationItem for re-encod.)",
  );
});

test("recordToDataset: metadata keys pass, unknown keys are rejected naming the key", () => {
  const rec = { status: "Success", path: "a.dcm", count: 3, PatientID: "P1" };
  assert.deepEqual(
    recordToDataset(rec).elements.map((e) => e.tag),
    [0x00100020],
  );
  assert.deepEqual(recordMetadata(rec), { status: "Success", path: "a.dcm", count: 3 });
  assert.ok(METADATA_KEYS.includes("sourceAet"));
  assert.equal(isMetadataKey("dBdt"), false); // a real keyword, not metadata
  for (const key of ["PatientId", "patientid", "0010002", "(0010,0020)x", "Patient ID"]) {
    assert.throws(
      () => recordToDataset({ PatientName: "A", [key]: "x" }),
      (e: unknown) => e instanceof RecordError && e.key === key && e.message.includes(`"${key}"`),
      key,
    );
  }
  // inside a sequence item too
  assert.throws(
    () => recordToDataset({ RequestAttributesSequence: [{ Bogus: 1 }] }),
    (e: unknown) => e instanceof RecordError && e.key === "Bogus",
  );
  // lenient mode drops them
  assert.deepEqual(
    recordToDataset({ PatientId: "x", PatientID: "y" }, { lenient: true }).elements.map(
      (e) => e.tag,
    ),
    [0x00100020],
  );
});

test("recordToDataset: wrong value types are errors that name the key", () => {
  assert.throws(
    () => recordToDataset({ PatientID: { a: 1 } }),
    (e: unknown) => e instanceof RecordError && e.key === "PatientID",
  );
  assert.throws(
    () => recordToDataset({ Rows: "many" }),
    /Rows: expected a number \(VR US\), got "many"/,
  );
  assert.throws(() => recordToDataset({ Rows: "" }), /Rows: expected a number/);
  assert.throws(
    () => recordToDataset({ RequestAttributesSequence: ["x"] }),
    /RequestAttributesSequence\[0\]: expected an object/,
  );
  assert.throws(() => recordToDataset({ PatientName: 5 }), /PatientName/);
});

test("recordToDataset: empty and absent values", (t) => {
  if (!needDcmtk(t)) return;
  const ds = recordToDataset({
    PatientName: null,
    PatientID: "",
    ModalitiesInStudy: [],
    Rows: null,
    RequestAttributesSequence: [],
    StudyInstanceUID: null,
  });
  assertSameAsDump(
    ds,
    "(0008,0061) CS (no value available)\n(0010,0010) PN (no value available)\n(0010,0020) LO (no value available)\n(0020,000d) UI (no value available)\n(0028,0010) US (no value available)\n(0040,0275) SQ (Sequence with explicit length #=0)\n(fffe,e0dd) na (SequenceDelimitationItem for re-encod.)",
  );
  // read back: empty → null, empty sequence → []
  const flat = datasetToFlat(ds);
  assert.deepEqual(flat, {
    ModalitiesInStudy: null,
    PatientName: null,
    PatientID: null,
    StudyInstanceUID: null,
    Rows: null,
    RequestAttributesSequence: [],
  });
});

test("recordToDataset: AT, binary numbers, base64 bulk data and hex keys with plain values", (t) => {
  if (!needDcmtk(t)) return;
  const ds = recordToDataset({
    FrameIncrementPointer: ["00181063", "(7FE0,0010)"],
    AcquisitionMatrix: "0\\256\\256\\0",
    ReferencePixelX0: "-70000",
    SelectorULValue: 4294967295,
    GraphicData: [1.5, "-2.25"],
    "00420011": { vr: "OB", InlineBinary: "AQIDBAUG" },
    "00100020": "P1", // hex key, plain value: dictionary VR
  });
  assertSameAsDump(
    ds,
    String.raw`
(0010,0020) LO [P1]
(0018,1310) US 0\256\256\0
(0018,6020) SL -70000
(0028,0009) AT (0018,1063)\(7fe0,0010)
(0042,0011) OB 01\02\03\04\05\06
(0070,0022) FL 1.5\-2.25
(0072,0078) UL 4294967295`.trimStart(),
  );
});

test("datasetToFlatJson produces exactly serializeRecord(datasetToFlat(…)) over a generated archive", async () => {
  const { generateInstances } = await import("@dicom-pipes/gen-archive");
  const {
    datasetToFlatJson,
    datasetToFlat: toFlat,
    serializeRecord: ser,
  } = await import("../src/records/index.js");
  let n = 0;
  for (const inst of generateInstances({ out: "/nonexistent", patients: 6, seed: "flatjson" })) {
    const ds = inst.dataset as unknown as Dataset;
    assert.equal(datasetToFlatJson(ds), ser(toFlat(ds)));
    assert.equal(datasetToFlatJson(ds, {}, '"query":7'), ser({ query: 7, ...toFlat(ds) }));
    n++;
  }
  assert.ok(n > 20);
});

test("datasetToFlatJson writes text values as serializeRecord(datasetToFlat(…)) does: numbers, odd IS/DS, several values, empty", async () => {
  const {
    datasetToFlatJson,
    datasetToFlat: toFlat,
    serializeRecord: ser,
  } = await import("../src/records/index.js");
  const { Dataset: DS, Tags: T } = await import("../src/dicom/index.js");
  const cases: Array<[number, string, string]> = [
    [T.InstanceNumber, "IS", "+5"],
    [T.InstanceNumber, "IS", " 12 "],
    [T.InstanceNumber, "IS", "12a"],
    [T.InstanceNumber, "IS", "1\\2"],
    [T.InstanceNumber, "IS", ""],
    [0x00280030, "DS", "0.5\\.25"],
    [0x00280030, "DS", "1e400"],
    [0x00180050, "DS", "-0"],
    [0x00180050, "DS", "NaN"],
    [0x00180050, "DS", "1.0E3"],
    [T.PatientName, "PN", 'Doe^"J"\\x'],
    [0x00080008, "CS", "ORIGINAL"],
    [0x00080008, "CS", ""],
    [T.StudyDescription, "LO", "tab\there \u00e9"],
  ];
  for (const [tag, vr, text] of cases) {
    const ds = new DS();
    ds.setString(tag, vr, text);
    assert.equal(datasetToFlatJson(ds), ser(toFlat(ds)), `${vr} ${JSON.stringify(text)}`);
  }
});
