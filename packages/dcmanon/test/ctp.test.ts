// CTP DicomAnonymizer scripts (--ctp-script): fixtures from test/fixtures.py (pydicom), outputs read
// with DCMTK's dcm2json; CTP's MD5 values computed independently with Python's hashlib; the real bin is spawned.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ndjson, runBin } from "@dicom-pipes/test-support/bins";
import { dcm2json, files, makeFixtures, PY, shiftedDate, type Json } from "./helpers.js";

let root = "";

function walk(ds: Json, path = ""): Array<{ tag: string; values: unknown[] }> {
  const out: Array<{ tag: string; values: unknown[] }> = [];
  for (const [tag, a] of Object.entries(ds)) {
    out.push({ tag, values: a.Value ?? [] });
    if (a.vr === "SQ")
      (a.Value as Json[] | undefined)?.forEach((item, i) =>
        out.push(...walk(item, `${path}${tag}[${i}].`)),
      );
  }
  return out;
}

function value(ds: Json, tag: string): unknown {
  const v = ds[tag]?.Value?.[0];
  return v && typeof v === "object" ? (v as { Alphabetic?: string }).Alphabetic : v;
}

/** Python's view of CTP's unsigned MD5 (decimal of the digest), for UIDs and @hash. */
function md5Decimal(text: string): string {
  const r = spawnSync(
    PY,
    [
      "-c",
      "import sys, hashlib; print(int(hashlib.md5(sys.argv[1].encode('utf-8')).hexdigest(), 16))",
      text,
    ],
    { encoding: "utf8" },
  );
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

const SCRIPT = `<?xml version="1.0"?>
<script>
 <p t="DATEINC">-137</p>
 <p t="UIDROOT">9</p>
 <p t="SITEID">42</p>
 <!-- <e en="T" t="00100030" n="PatientBirthDate">@hashdate(this,PatientID)</e> in a comment -->
 <e en="T" t="00080018" n="SOPInstanceUID">@hashuid(@UIDROOT,this)</e>
 <e en="T" t="0020000d" n="StudyInstanceUID">@hashuid(@UIDROOT,this)</e>
 <e en="T" t="0020000e" n="SeriesInstanceUID">@hashuid(@UIDROOT,this)</e>
 <e en="T" t="00081155" n="RefSOPInstanceUID">@hashuid(@UIDROOT,this)</e>
 <e en="T" t="00080020" n="StudyDate">@keep()</e>
 <e en="T" t="00080021" n="SeriesDate">@remove()</e>
 <e en="T" t="00080023" n="ContentDate">@incrementdate(this,@DATEINC)</e>
 <e en="T" t="00080050" n="AccessionNumber">@hash(this,16)</e>
 <e en="T" t="00081030" n="StudyDescription">@remove()</e>
 <e en="T" t="00100010" n="PatientName">@lookup(PatientID,ptid)</e>
 <e en="T" t="00100020" n="PatientID">@lookup(this,ptid)</e>
 <e en="T" t="00120030" n="ClinicalTrialSiteID">@always()@param(@SITEID)</e>
 <e en="T" t="00120040" n="ClinicalTrialSubjectID">@always()S-@integer(PatientID,subject,3)</e>
 <e en="F" t="00181012" n="DateOfSecondaryCapture">@hashptid(@SITEID,PatientID)</e>@remove()
 <e en="T" t="00130010" n="BlockOwner">CTP</e>
 <e en="T" t="00080008" n="ImageType">DERIVED\\SECONDARY</e>
 <e en="T" t="00100030" n="PatientBirthDate">@hashdate(this,PatientID)</e>
 <p t="PROFILENAME">DICOM-PS3.15E-Basic</p>
 <e en="T" t="00120063" n="DeIdentificationMethod">@append(){CTP: @param(@PROFILENAME): @date():@time()}</e>
 <e en="T" t="00080090" n="ReferringPhysicianName">@if(this,isblank){@remove()}{Removed by CTP}</e>
 <e en="T" t="00100040" n="PatientSex">@if(PatientSize,exists){@keep()}{@remove()}</e>
 <k en="T" t="0028">Keep group 0028</k>
 <r en="T" t="curves">Remove curves</r>
 <r en="T" t="overlays">Remove overlays</r>
 <r en="T" t="privategroups">Remove private groups</r>
 <r en="F" t="unspecifiedelements">Remove unchecked elements</r>
</script>
`;

before(() => {
  root = makeFixtures("dcmanon-ctp-");
  writeFileSync(join(root, "k1"), "k1-0123456789abcdef0123456789abcdef-secret");
  writeFileSync(join(root, "da.script"), SCRIPT);
  writeFileSync(
    join(root, "lut.properties"),
    "# patients\nptid/PID4455667 = SUBJ0001\nacc/ACC177001 = X\n",
  );
});

async function anon(args: string[]) {
  return runBin("dcmanon", ["--secret-file", "k1", "--id-map", "lut.properties", ...args], {
    cwd: root,
  });
}

/** The CT outputs by their original instance number. */
function outputs(results: Array<Record<string, unknown>>): Map<string, Json> {
  const m = new Map<string, Json>();
  for (const r of results)
    if (r.status === "ok")
      m.set((r.in as string).split("/").pop()!, dcm2json(join(root, r.out as string)));
  return m;
}

test("--ctp-script --ctp-compat exact: CTP's MD5 UIDs and @hash, @lookup, @incrementdate, @hashdate, @append, @if, @always/@param/@integer; no private group; unmapped patient quarantined", async () => {
  const r = await anon([
    "--ctp-script",
    "da.script",
    "--ctp-compat",
    "exact",
    "-o",
    "exact",
    "F/A/ct1.dcm",
    "F/A/ct2.dcm",
    "F/A/pr.dcm",
    "F/B/pt.dcm",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /W: dcmanon: .*unsalted MD5/);
  assert.match(
    r.stderr,
    /W: dcmanon: --ctp-script da\.script:20: text "@remove\(\)" between script lines is not part of a rule/,
  );
  assert.match(
    r.stderr,
    /\(0013,0010\) .*line 21\): not applied, private attributes are always removed/,
  );
  const res = ndjson(r.stdout);
  assert.deepEqual(
    res.map((x) => x.status),
    ["ok", "ok", "ok", "quarantined"],
    r.stdout,
  );
  assert.match(res[3]!.reason as string, /unmapped patient/);
  const out = outputs(res);
  const ct1 = out.get("ct1.dcm")!;
  const origSop = "1.2.826.0.1.3680043.10.1234.1.1.1.1";
  assert.equal(value(ct1, "00080018"), `9.${md5Decimal(origSop)}`.slice(0, 64));
  assert.equal(
    value(ct1, "0020000D"),
    `9.${md5Decimal("1.2.826.0.1.3680043.10.1234.1.1")}`.slice(0, 64),
  );
  // Not named by the script: Table E.1-1's U, with the same (CTP) mapping.
  assert.equal(
    value(ct1, "00200052"),
    `9.${md5Decimal("1.2.826.0.1.3680043.10.1234.1.1.0.1")}`.slice(0, 64),
  );
  assert.equal(value(ct1, "00080050"), md5Decimal("ACC177001").slice(0, 16));
  assert.equal(value(ct1, "00100020"), "SUBJ0001");
  assert.equal(value(ct1, "00100010"), "SUBJ0001");
  assert.equal(value(ct1, "00080020"), "20220801");
  assert.equal(ct1["00080021"], undefined);
  assert.equal(value(ct1, "00080023"), shiftedDate("20220801", -137));
  assert.equal(ct1["00081030"], undefined);
  assert.equal(value(ct1, "00120030"), "42");
  assert.equal(value(ct1, "00120040"), "S-001");
  assert.equal(value(out.get("ct2.dcm")!, "00120040"), "S-001", "one number per PatientID");
  assert.equal(value(ct1, "00120062"), "YES");
  assert.deepEqual(ct1["00080008"]?.Value, ["DERIVED", "SECONDARY"], "a literal with two values");
  assert.equal(value(ct1, "00080090"), "Removed by CTP", "@if(this,isblank) else branch");
  assert.equal(ct1["00100040"], undefined, "@if(PatientSize,exists) else branch: removed");
  const method = ct1["00120063"]!.Value as string[];
  assert.match(
    method[0]!,
    /^CTP: DICOM-PS3\.15E-Basic: \d{8}:\d{6}$/,
    "@append(){…} with @param, @date, @time",
  );
  assert.match(method[1]!, /^dcmanon /, "then dcmanon's own description");
  // CTP's @hashdate: minus (the last 4 digits of the MD5 decimal of the input's PatientID) mod 3650, -1 for 0.
  const inc = -(Number(md5Decimal("PID4455667").slice(-4)) % 3650) || -1;
  assert.equal(value(ct1, "00100030"), shiftedDate("19700315", inc));
  for (const [name, ds] of out) {
    for (const e of walk(ds))
      assert.equal(parseInt(e.tag.slice(0, 4), 16) % 2, 0, `${name}: private ${e.tag}`);
  }
  // The presentation state's references at depth follow the CT's new UIDs.
  const refs = walk(out.get("pr.dcm")!)
    .filter((e) => e.tag === "00081155")
    .flatMap((e) => e.values as string[]);
  assert.ok(refs.length >= 2);
  const ctSops = new Set(
    [1, 2, 3, 4, 5].map((i) =>
      `9.${md5Decimal(`1.2.826.0.1.3680043.10.1234.1.1.1.${i}`)}`.slice(0, 64),
    ),
  );
  for (const u of refs) assert.ok(ctSops.has(u), `${u} is not a new CT SOP Instance UID`);
});

test("--ctp-script (safe, the default): @hashuid and @hash keyed by the secret, not CTP's MD5; same key, same output", async () => {
  const a = await anon(["--ctp-script", "da.script", "-o", "safe1", "F/A/ct1.dcm"]);
  const b = await anon(["--ctp-script", "da.script", "-o", "safe2", "F/A/ct1.dcm"]);
  assert.equal(a.code, 0, a.stderr);
  assert.doesNotMatch(a.stderr, /unsalted/);
  const [x, y] = [ndjson(a.stdout)[0]!, ndjson(b.stdout)[0]!];
  assert.equal(x.status, "ok", a.stdout);
  const ds = dcm2json(join(root, x.out as string));
  const sop = value(ds, "00080018") as string;
  assert.match(sop, /^9\.[1-9]\d*$/);
  assert.notEqual(sop, `9.${md5Decimal("1.2.826.0.1.3680043.10.1234.1.1.1.1")}`.slice(0, 64));
  assert.match(value(ds, "00080050") as string, /^\d{16}$/);
  assert.notEqual(value(ds, "00080050"), md5Decimal("ACC177001").slice(0, 16));
  assert.equal(y.sop, x.sop);
});

test("--ctp-script: unspecifiedelements removes what the script does not name, except keep groups, the SOP class and the pixels", async () => {
  writeFileSync(
    join(root, "strict.script"),
    `<script>
 <e en="T" t="00080018" n="SOPInstanceUID">@hashuid(2.25,this)</e>
 <e en="T" t="00100020" n="PatientID">@lookup(this,ptid)</e>
 <e en="T" t="00080060" n="Modality">@keep()</e>
 <k en="T" t="0028">Keep group 0028</k>
 <r en="T" t="unspecifiedelements">Remove unchecked elements</r>
</script>`,
  );
  const r = await anon(["--ctp-script", "strict.script", "-o", "strict", "F/A/ct1.dcm"]);
  assert.equal(r.code, 0, r.stderr);
  const res = ndjson(r.stdout)[0]!;
  assert.equal(res.status, "ok", r.stdout);
  const ds = dcm2json(join(root, res.out as string));
  assert.equal(value(ds, "00080060"), "CT");
  assert.equal(value(ds, "00280010"), 8);
  assert.ok(ds["7FE00010"], "pixel data kept");
  assert.equal(value(ds, "00080016"), "1.2.840.10008.5.1.4.1.1.2");
  for (const gone of ["00080020", "00081030", "00100010", "0020000D", "00400275", "00080080"])
    assert.equal(ds[gone], undefined, gone);
  assert.equal(value(ds, "00120062"), "YES", "markers are added after the script");
});

test("--ctp-script: a @keep that leaves a name is still caught by the residual scan", async () => {
  writeFileSync(
    join(root, "leaky.script"),
    `<script>\n <e en="T" t="00081030" n="StudyDescription">@keep()</e>\n</script>\n`,
  );
  const r = await anon(["--ctp-script", "leaky.script", "-o", "leaky", "F/A/ct1.dcm"]);
  assert.equal(r.code, 0, r.stderr);
  const res = ndjson(r.stdout)[0]!;
  assert.equal(res.status, "quarantined");
  assert.match(res.reason as string, /residual identifier: .*\(0008,1030\)/);
});

test("--ctp-script: an unsupported function, rule or XML element is exit 2 naming its line", async () => {
  const cases: Array<[string, RegExp]> = [
    [
      `<script>\n <p t="SITEID">1</p>\n <e en="T" t="00120040" n="ClinicalTrialSubjectID">@hashptid(@SITEID,PatientID)</e>\n</script>`,
      /bad\.script:3: @hashptid\(\) is not supported/,
    ],
    [
      `<script>\n <e en="T" t="00100040" n="PatientSex">@select(this){M}</e>\n</script>`,
      /bad\.script:2: @select\(\)\{\.\.\.\}: functions with a \{\.\.\.\} argument other than @append and @if/,
    ],
    [
      `<script>\n\n <e en="T" t="00100040" n="PatientSex">@if(this,contains,M){@keep()}{@remove()}</e>\n</script>`,
      /bad\.script:3: expected @if\(ELEMENT,isblank\|exists\)/,
    ],
    [
      `<script>\n\n <r en="T" t="bogus">x</r>\n</script>`,
      /bad\.script:3: <r t="bogus"> is not supported/,
    ],
    [`<script>\n <x/>\n</script>`, /bad\.script:2: <x> is not supported/],
    [
      `<script>\n <e en="T" t="0008001" n="S">@keep()</e>\n</script>`,
      /bad\.script:2: t="0008001" is not a tag/,
    ],
    [
      `<script>\n <e en="T" t="00080018" n="S">@hashuid(@UIDROOT,this)</e>\n</script>`,
      /bad\.script:2: @hashuid: parameter @UIDROOT is not defined/,
    ],
    [
      `<script>\n <e en="T" t="00100020" n="P">@lookup(this,acc)</e>\n</script>`,
      /bad\.script:2: @lookup: key type "acc" is not supported/,
    ],
  ];
  for (const [text, re] of cases) {
    writeFileSync(join(root, "bad.script"), text);
    const r = await anon(["--ctp-script", "bad.script", "-o", "bad", "F/A/ct1.dcm"]);
    assert.equal(r.code, 2, `${text}\n${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stdout, "");
  }
  assert.deepEqual(
    files(root).filter((f) => f.includes("/bad/")),
    [],
  );
});

test("--ctp-script @integer: numbers by first appearance in input order, also with -j 4 (the files are not spread over threads)", async () => {
  writeFileSync(
    join(root, "int.script"),
    `<script>\n <e en="T" t="00120040" n="ClinicalTrialSubjectID">@always()S-@integer(PatientID,subject,3)</e>\n</script>`,
  );
  // Two patients, each with several files, in two input orders.
  const inputs = ["F/B/pt.dcm", "F/A/ct1.dcm", "F/A/ct2.dcm", "F/A/pr.dcm"];
  for (const order of [inputs, [...inputs].reverse()]) {
    const out = `int-${order[0]!.split("/").pop()}`;
    const r = await runBin(
      "dcmanon",
      ["--secret-file", "k1", "--ctp-script", "int.script", "-j", "4", "-o", out, ...order],
      { cwd: root, env: { DICOM_PIPES_THREADS: "4" } },
    );
    assert.equal(r.code, 0, r.stderr);
    const res = ndjson(r.stdout);
    assert.deepEqual(
      res.map((x) => x.status),
      ["ok", "ok", "ok", "ok"],
    );
    const subject = new Map(
      res.map((x) => [
        (x.in as string).split("/").pop()!,
        value(dcm2json(join(root, x.out as string)), "00120040"),
      ]),
    );
    // Patient B (pt.dcm) and patient A (the other three): the first one given is S-001.
    const bFirst = order[0] === "F/B/pt.dcm";
    const want = (f: string) => ((f === "pt.dcm") === bFirst ? "S-001" : "S-002");
    for (const [f, v] of subject) assert.equal(v, want(f), `${order.join(" ")}: ${f}`);
  }
});
