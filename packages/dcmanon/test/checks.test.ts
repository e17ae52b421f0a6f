// The ten acceptance checks of dcmanon on fixtures written by pydicom (test/fixtures.py),
// read back with DCMTK (dcm2json, dcmdump) and pydicom as independent readers; the real bin is spawned.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { ndjson, runBin } from "@dicom-pipes/test-support/bins";
import { dcm2json, files, type Json } from "./helpers.js";

const PY = "/usr/bin/python3";
const HERE = new URL(".", import.meta.url).pathname;
let root = "";
let manifest: {
  names: string[];
  ids: string[];
  dates: string[];
  texts: string[];
  uids: string[];
  tableChecked: Array<{ tag: string; vr: string; basic: string; keyword: string }>;
};

/** Every (path, tag, vr, values) at every depth of a PS3.18 object. */
function walk(
  ds: Json,
  path = "",
): Array<{ path: string; tag: string; vr: string; values: unknown[] }> {
  const out: Array<{ path: string; tag: string; vr: string; values: unknown[] }> = [];
  for (const [tag, a] of Object.entries(ds)) {
    out.push({ path: path + tag, tag, vr: a.vr, values: a.Value ?? [] });
    if (a.vr === "SQ")
      (a.Value as Json[] | undefined)?.forEach((item, i) =>
        out.push(...walk(item, `${path}${tag}[${i}].`)),
      );
  }
  return out;
}

function str(v: unknown): string {
  if (v && typeof v === "object") return Object.values(v as Record<string, string>).join("=");
  return String(v);
}

async function anon(args: string[], cwd = root) {
  return runBin("dcmanon", args, { cwd });
}

before(() => {
  root = mkdtempSync(join(tmpdir(), "dcmanon-checks-"));
  const table = spawnSync(process.execPath, [join(HERE, "../bin/dcmanon.js"), "table"], {
    encoding: "utf8",
  });
  assert.equal(table.status, 0, table.stderr);
  const tsv = ndjson(table.stdout)
    .filter((r) => /^\([0-9A-F]{4},[0-9A-F]{4}\)$/.test(r.tag as string))
    .map((r) => `${r.tag}\t${r.basic_profile}\n`)
    .join("");
  writeFileSync(join(root, "table.tsv"), tsv);
  const r = spawnSync(PY, [join(HERE, "fixtures.py"), root, join(root, "table.tsv")], {
    encoding: "utf8",
  });
  assert.equal(r.status, 0, `fixtures.py (python3-pydicom needed): ${r.stderr}`);
  manifest = JSON.parse(readFileSync(join(root, "manifest.json"), "utf8"));
  writeFileSync(join(root, "k1"), "k1-0123456789abcdef0123456789abcdef-secret");
  writeFileSync(join(root, "k2"), "k2-0123456789abcdef0123456789abcdef-secret");
});

const BASE = [
  "--secret-file",
  "k1",
  "--retain-modified-dates",
  "--date-shift",
  "-365:-30",
  "--map-out",
  "map.ndjson",
  "--audit-log",
  "audit.ndjson",
];

async function baseRun(out: string, extra: string[] = [], inputs = ["F"]) {
  const r = await anon([...BASE, ...extra, "-o", out, ...inputs]);
  assert.equal(r.code, 0, r.stderr);
  return ndjson(r.stdout);
}

test("table: 657 rows of edition 2026d, 4 of them patterns; --version names the edition", async () => {
  const t = await anon(["table"]);
  const rows = ndjson(t.stdout);
  assert.equal(rows.length, 657);
  assert.equal(
    rows.filter((r) => !/^\([0-9A-F]{4},[0-9A-F]{4}\)$/.test(r.tag as string)).length,
    4,
  );
  const v = await anon(["--version"]);
  assert.match(v.stdout, /2026d/);
});

test("check 1: no identifying input value in any output byte; check 7: no private group anywhere", async () => {
  const results = await baseRun("out1");
  const ok = results.filter((r) => r.status === "ok");
  assert.ok(ok.length >= 9, JSON.stringify(results));
  const words = [
    ...manifest.names.filter((n) => n.length >= 2),
    ...manifest.ids,
    ...manifest.dates,
    ...manifest.texts,
    ...manifest.uids,
    "ACME",
  ];
  for (const r of ok) {
    const bytes = readFileSync(join(root, r.out as string));
    const latin1 = bytes.toString("latin1").toLowerCase();
    for (const w of words) {
      for (const form of [
        Buffer.from(w.toLowerCase(), "latin1").toString("latin1"),
        Buffer.from(w.toLowerCase(), "utf8").toString("latin1"),
      ]) {
        assert.ok(
          !latin1.includes(form),
          `${w} found in ${r.out as string} (from ${r.in as string})`,
        );
      }
    }
    const decoded = walk(dcm2json(join(root, r.out as string)))
      .flatMap((e) => e.values.map(str))
      .join("\n")
      .toLowerCase();
    for (const w of manifest.names)
      assert.ok(!decoded.includes(w.toLowerCase()), `${w} decoded in ${r.out as string}`);
    for (const e of walk(dcm2json(join(root, r.out as string))))
      assert.equal(
        parseInt(e.tag.slice(0, 4), 16) % 2,
        0,
        `private ${e.path} in ${r.out as string}`,
      );
  }
  assert.equal(statSync(join(root, "map.ndjson")).mode & 0o777, 0o600);
});

test("check 2: referential integrity at every depth; classes and syntaxes kept; valid UIDs", async () => {
  const results = await baseRun("out2");
  const map = new Map(
    ndjson(readFileSync(join(root, "map.ndjson"), "utf8"))
      .filter((m) => m.kind === "uid")
      .map((m) => [m.orig as string, m.new as string]),
  );
  const news = new Set(map.values());
  assert.equal(news.size, map.size, "the UID map is one to one");
  const byIn = new Map(results.map((r) => [r.in as string, r]));
  const ctSops = [1, 2, 3, 4, 5].map((i) => byIn.get(`F/A/ct${i}.dcm`)!.sop as string);
  const pr = dcm2json(join(root, byIn.get("F/A/pr.dcm")!.out as string));
  const refs = walk(pr)
    .filter((e) => e.tag === "00081155")
    .flatMap((e) => e.values as string[]);
  assert.deepEqual(refs, ctSops, "the presentation state references the new CT SOP Instance UIDs");
  const studies = new Set(
    results
      .filter((r) => r.status === "ok" && (r.in as string).startsWith("F/A/ct"))
      .map((r) => r.study),
  );
  assert.equal(studies.size, 1);
  for (const r of results.filter((x) => x.status === "ok")) {
    const j = dcm2json(join(root, r.out as string));
    for (const e of walk(j).filter((x) => x.vr === "UI")) {
      for (const u of e.values as string[]) {
        assert.match(u, /^(0|[1-9]\d*)(\.(0|[1-9]\d*))*$/, `${e.path} ${u}`);
        assert.ok(u.length <= 64);
        if (e.tag === "00080016" || e.tag === "00081150")
          assert.ok(u.startsWith("1.2.840.10008."), `${e.path} kept`);
        else assert.ok(news.has(u), `${e.path} ${u} is a remapped UID`);
      }
    }
  }
});

test("check 3: determinism: -j 1 whole set vs -j 4 in two halves in the other order; another key shares nothing", async () => {
  await baseRun("det1", ["-j", "1"]);
  await baseRun("det2", ["-j", "4"], ["F/B", "F/extras", "F/charset"]);
  await baseRun("det2", ["-j", "4"], ["F/A"]);
  const a = files(join(root, "det1")).map((p) => relative(join(root, "det1"), p));
  const b = files(join(root, "det2")).map((p) => relative(join(root, "det2"), p));
  assert.deepEqual(a, b);
  for (const rel of a)
    assert.ok(
      readFileSync(join(root, "det1", rel)).equals(readFileSync(join(root, "det2", rel))),
      rel,
    );
  const r1 = ndjson((await anon([...BASE, "-o", "k1out", "F"])).stdout);
  const r2 = ndjson(
    (
      await anon([
        "--secret-file",
        "k2",
        "--retain-modified-dates",
        "--date-shift",
        "-365:-30",
        "-o",
        "k2out",
        "F",
      ])
    ).stdout,
  );
  for (const k of ["sop", "study", "series", "patient"]) {
    const s1 = new Set(r1.map((r) => r[k]).filter(Boolean));
    for (const r of r2) if (r[k]) assert.ok(!s1.has(r[k]), `${k} equal under two keys`);
  }
});

function daysBetween(a: string, b: string): number {
  const t = (s: string) => Date.UTC(+s.slice(0, 4), +s.slice(4, 6) - 1, +s.slice(6, 8));
  return (t(b) - t(a)) / 86400000;
}

test("check 4: one day shift per patient over every DA and DT at every depth, time and offset kept; (0028,0303)", async () => {
  const results = await baseRun("out4");
  const shifts = new Map<string, Set<number>>();
  for (const r of results.filter((x) => x.status === "ok" && (x.in as string).startsWith("F/"))) {
    const inEls = walk(dcm2json(join(root, r.in as string)));
    const outEls = new Map(walk(dcm2json(join(root, r.out as string))).map((e) => [e.path, e]));
    for (const e of inEls.filter((x) => x.vr === "DA" || x.vr === "DT" || x.vr === "TM")) {
      const o = outEls.get(e.path);
      if (!o || !e.values.length || e.path.startsWith("00100030")) continue;
      const iv = String(e.values[0]);
      const ov = String(o.values[0]);
      if (e.vr === "TM") {
        assert.equal(ov, iv, `${e.path} TM unchanged`);
        continue;
      }
      const d = daysBetween(iv.slice(0, 8), ov.slice(0, 8));
      if (e.vr === "DT")
        assert.equal(ov.slice(8), iv.slice(8), `${e.path}: time, fraction and offset kept`);
      const set = shifts.get(r.patient as string) ?? new Set();
      set.add(d);
      shifts.set(r.patient as string, set);
    }
    const j = dcm2json(join(root, r.out as string));
    assert.deepEqual(j["00280303"]?.Value, ["MODIFIED"]);
  }
  assert.ok(shifts.size >= 2);
  const all: number[] = [];
  for (const [p, s] of shifts) {
    assert.equal(s.size, 1, `one shift for ${p}: ${[...s]}`);
    const d = [...s][0]!;
    assert.ok(d >= -365 && d <= -30 && d !== 0, `${d}`);
    all.push(d);
  }
  assert.equal(new Set(all).size, all.length, "patients have different shifts");
  const none = ndjson((await anon(["--secret-file", "k1", "-o", "out4b", "F/B"])).stdout)[0]!;
  assert.deepEqual(dcm2json(join(root, none.out as string))["00280303"]?.Value, ["REMOVED"]);
  const full = ndjson(
    (await anon(["--secret-file", "k1", "--retain-full-dates", "-o", "out4c", "F/B"])).stdout,
  )[0]!;
  const fj = dcm2json(join(root, full.out as string));
  assert.deepEqual(fj["00280303"]?.Value, ["UNMODIFIED"]);
  assert.deepEqual(fj["00080020"]?.Value, ["20230102"]);
});

test("check 5: the Basic Profile on every single-tag row pydicom knows, at the top level and nested", async () => {
  const r = ndjson(
    (await anon(["--secret-file", "k1", "--on-residual", "warn", "-o", "out5", "T"])).stdout,
  )[0]!;
  assert.equal(r.status, "ok", JSON.stringify(r));
  const j = dcm2json(join(root, r.out as string));
  const nested = (j["00081115"]?.Value as Json[] | undefined)?.[0] ?? {};
  let checked = 0;
  for (const row of manifest.tableChecked) {
    const key = row.tag.slice(1, 5) + row.tag.slice(6, 10);
    if (["00100010", "00100020", "00080018", "0020000D", "0020000E", "00081115"].includes(key))
      continue;
    for (const [where, ds] of [
      ["top", j],
      ["nested", nested],
    ] as const) {
      const a = ds[key];
      const present = a !== undefined;
      const values = a?.Value ?? (a?.InlineBinary ? [a.InlineBinary] : []);
      const empty = present && values.length === 0;
      const branches = row.basic.replace("U*", "U").split("/");
      const ok = branches.some((b) => {
        switch (b) {
          case "X":
            return !present;
          case "Z":
            return (
              empty ||
              (present &&
                values.length > 0 &&
                !values
                  .map(str)
                  .some((v) =>
                    /sentinel|20010203|^7(\.5)?$|033Y|1\.2\.826\.0\.1\.3680043\.10\.1234/i.test(v),
                  ))
            );
          case "D":
            return (
              present &&
              values.length > 0 &&
              !values
                .map(str)
                .some((v) =>
                  /sentinel|^20010203$|033Y|1\.2\.826\.0\.1\.3680043\.10\.1234\.7/i.test(v),
                )
            );
          case "U":
            return (
              present && (a.vr === "SQ" || values.every((v) => /^2\.25\.\d+$/.test(String(v))))
            );
          default:
            return false;
        }
      });
      assert.ok(ok, `${row.tag} ${row.keyword} (${row.basic}) ${where}: ${JSON.stringify(a)}`);
    }
    checked++;
  }
  assert.ok(checked >= 590, `${checked} rows checked`);
  for (const e of walk(j)) {
    const g = parseInt(e.tag.slice(0, 4), 16);
    assert.ok(
      g % 2 === 0 &&
        (g & 0xff00) !== 0x5000 &&
        !((g & 0xff00) === 0x6000 && ["3000", "4000"].includes(e.tag.slice(4))),
      e.path,
    );
  }
});

test("check 6: markers, rebuilt meta, zero preamble, transfer syntax and pixel data kept; DCMTK and pydicom read it cleanly", async () => {
  const results = await baseRun("out6", [], ["F/A", "syntax"]);
  for (const r of results) {
    assert.equal(r.status, "ok", JSON.stringify(r));
    const out = join(root, r.out as string);
    const bytes = readFileSync(out);
    assert.ok(
      bytes.subarray(0, 128).every((b) => b === 0),
      "preamble zeroed",
    );
    const d = spawnSync("dcmdump", ["-E", out], { encoding: "utf8" });
    assert.equal(d.status, 0);
    assert.equal(d.stderr, "", d.stderr);
    const py = spawnSync(
      PY,
      [
        "-W",
        "error",
        "-c",
        `
import sys, json, hashlib, pydicom
a = pydicom.dcmread(sys.argv[1]); b = pydicom.dcmread(sys.argv[2])
print(json.dumps({"ts_in": str(a.file_meta.TransferSyntaxUID), "ts_out": str(b.file_meta.TransferSyntaxUID),
  "px_in": hashlib.sha256(a.PixelData).hexdigest() if "PixelData" in a else None,
  "px_out": hashlib.sha256(b.PixelData).hexdigest() if "PixelData" in b else None,
  "msop": str(b.file_meta.MediaStorageSOPInstanceUID), "sop": str(b.SOPInstanceUID),
  "mclass": str(b.file_meta.MediaStorageSOPClassUID), "cls": str(b.SOPClassUID),
  "removed": b.PatientIdentityRemoved, "codes": [i.CodeValue for i in b.DeidentificationMethodCodeSequence],
  "schemes": [i.CodingSchemeDesignator for i in b.DeidentificationMethodCodeSequence], "method": list(b.DeidentificationMethod),
  "equipment": [i.PurposeOfReferenceCodeSequence[0].CodeValue for i in b.ContributingEquipmentSequence]}))
`,
        join(root, r.in as string),
        out,
      ],
      { encoding: "utf8" },
    );
    assert.equal(py.status, 0, py.stderr);
    const p = JSON.parse(py.stdout);
    assert.equal(p.ts_out, p.ts_in);
    assert.equal(p.px_out, p.px_in);
    assert.equal(p.msop, p.sop);
    assert.equal(p.mclass, p.cls);
    assert.equal(p.removed, "YES");
    assert.deepEqual(p.codes, ["113100", "113107"]);
    assert.deepEqual(p.schemes, ["DCM", "DCM"]);
    assert.match(p.method.join(" "), /2026d/);
    assert.deepEqual(p.equipment, ["109104"], "Contributing Equipment: De-identifying Equipment");
  }
  assert.deepEqual(
    results.map((r) => r.in).filter((i) => (i as string).startsWith("syntax")).length,
    3,
  );
});

test("check 8: non-destructive filtering; burned-in policy; DICOMDIR skipped; inputs unchanged", async () => {
  const sums = new Map(
    files(join(root, "F")).map((p) => [
      p,
      createHash("sha256").update(readFileSync(p)).digest("hex"),
    ]),
  );
  const results = ndjson(
    (await anon(["--secret-file", "k1", "--drop-identifiable", "-o", "out8", "F"])).stdout,
  );
  const by = new Map(results.map((r) => [r.in as string, r]));
  for (const f of [
    "F/extras/sc-burned.dcm",
    "F/extras/screen-save.dcm",
    "F/A/sr.dcm",
    "F/extras/DICOMDIR",
  ]) {
    assert.equal(by.get(f)?.status, "skipped", `${f}: ${JSON.stringify(by.get(f))}`);
    assert.ok((by.get(f)!.reason as string).length > 0);
    assert.equal(by.get(f)!.out, null);
  }
  for (const [p, s] of sums)
    assert.equal(createHash("sha256").update(readFileSync(p)).digest("hex"), s, `${p} unchanged`);
  const fail = await anon([
    "--secret-file",
    "k1",
    "--on-burned-in",
    "fail",
    "-o",
    "out8b",
    "F/extras",
  ]);
  assert.equal(fail.code, 3);
  assert.equal(ndjson(fail.stdout).find((r) => r.in === "F/extras/sc-burned.dcm")?.status, "error");
});

test("check 9: PACSIFIER maps and layout; an unmapped patient is quarantined; lookup finds the original", async () => {
  writeFileSync(join(root, "new_ids.json"), JSON.stringify({ "sub-1234": "P0001" }));
  writeFileSync(join(root, "day_shift.json"), JSON.stringify({ "sub-1234": "-35" }));
  const r = await anon([
    "--secret-file",
    "k1",
    "--id-map",
    "new_ids.json",
    "--id-map-key",
    "dirname",
    "--day-shift-map",
    "day_shift.json",
    "--retain-modified-dates",
    "--layout",
    "bids",
    "--patient-name",
    "{pid}^sub",
    "--map-out",
    "map9.ndjson",
    "-o",
    "out9",
    "P",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const res = ndjson(r.stdout);
  const ok = res.find((x) => x.in === "P/sub-1234/ses-20220815/s1/IM1.dcm")!;
  assert.equal(ok.status, "ok", JSON.stringify(ok));
  assert.match(ok.out as string, /^out9\/sub-P0001\/ses-20220711\/00001-CT\/2\.25\.\d+\.dcm$/);
  const j = dcm2json(join(root, ok.out as string));
  assert.deepEqual(j["00100020"]?.Value, ["P0001"]);
  assert.equal(str(j["00100010"]?.Value?.[0]), "P0001^sub");
  assert.deepEqual(j["00080020"]?.Value, ["20220711"]);
  const miss = res.find((x) => x.in === "P/sub-9999/ses-20220815/s1/IM1.dcm")!;
  assert.equal(miss.status, "quarantined");
  assert.match(miss.reason as string, /unmapped/);
  const l = await anon(["lookup", "--map-in", "map9.ndjson", "--pseudonym", "P0001"]);
  assert.equal(l.code, 0, l.stderr);
  assert.equal(ndjson(l.stdout)[0]!.orig_pid, "PID1212121");
});

test("check 10: ISO_IR 192 and ISO 2022 IR 87 outputs decode in pydicom with their character set kept", async () => {
  const results = await baseRun("out10", [], ["F/charset"]);
  for (const r of results) {
    assert.equal(r.status, "ok", JSON.stringify(r));
    const py = spawnSync(
      PY,
      [
        "-W",
        "error",
        "-c",
        `
import sys, pydicom
a = pydicom.dcmread(sys.argv[1]); b = pydicom.dcmread(sys.argv[2])
assert list(pydicom.multival.MultiValue(str, a.SpecificCharacterSet) if not isinstance(a.SpecificCharacterSet, str) else [a.SpecificCharacterSet]) == list(pydicom.multival.MultiValue(str, b.SpecificCharacterSet) if not isinstance(b.SpecificCharacterSet, str) else [b.SpecificCharacterSet])
text = " ".join(str(e.value) for e in b.iterall() if e.VR in ("PN","LO","SH","LT","ST","UT"))
for w in ("Müller", "Jürgen", "山田", "太郎", "やまだ", "Yamada"):
    assert w.lower() not in text.lower(), w
print(b.SeriesDescription if "SeriesDescription" in b else "")
`,
        join(root, r.in as string),
        join(root, r.out as string),
      ],
      { encoding: "utf8" },
    );
    assert.equal(py.status, 0, py.stderr);
  }
});

test("residual scan: a name left in a kept descriptor quarantines the file; scrub replaces it; warn keeps it", async () => {
  const q = ndjson(
    (await anon(["--secret-file", "k1", "--clean-descriptors", "-o", "outR", "F/B/pt.dcm"])).stdout,
  )[0]!;
  assert.equal(q.status, "quarantined");
  assert.match(q.reason as string, /PatientName component in \(0008,1030\)/);
  assert.equal(existsSync(join(root, "outR")), false, "nothing written");
  const s = ndjson(
    (
      await anon([
        "--secret-file",
        "k1",
        "--clean-descriptors",
        "--on-residual",
        "scrub",
        "-o",
        "outS",
        "F/B/pt.dcm",
      ])
    ).stdout,
  )[0]!;
  assert.equal(s.status, "ok");
  assert.deepEqual(dcm2json(join(root, s.out as string))["00081030"]?.Value, [
    "CT chest for REMOVED",
  ]);
});

test("usage errors: short secret, missing -o, bad --date-shift (exit 2, one line)", async () => {
  writeFileSync(join(root, "short"), "tooshort");
  for (const args of [
    ["--secret-file", "short", "-o", "x", "F"],
    ["--secret-file", "k1", "F"],
    ["--secret-file", "k1", "--retain-modified-dates", "--date-shift", "0:0", "-o", "x", "F"],
  ]) {
    const r = await anon(args);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^E: dcmanon: /);
    assert.equal(r.stdout, "");
  }
});

test("stdin: paths and NDJSON records with path, as storescp-ts writes them", async () => {
  const r = await runBin("dcmanon", ["--secret-file", "k1", "-o", "outStdin", "-"], {
    cwd: root,
    input: `F/B/pt.dcm\n{"path":"F/A/ct1.dcm","sourceAet":"X"}\n`,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    ndjson(r.stdout).map((x) => [x.in, x.status]),
    [
      ["F/B/pt.dcm", "ok"],
      ["F/A/ct1.dcm", "ok"],
    ],
  );
});

test("two inputs holding the same SOP instance: the second is reported skipped, not written over the first", async () => {
  const { mkdirSync, copyFileSync } = await import("node:fs");
  mkdirSync(join(root, "dup"), { recursive: true });
  copyFileSync(join(root, "F/B/pt.dcm"), join(root, "dup/a.dcm"));
  copyFileSync(join(root, "F/B/pt.dcm"), join(root, "dup/b.dcm"));
  // -j 2: the second input is read while the first is being written (the output in flight).
  const res = ndjson(
    (await anon(["--secret-file", "k1", "-j", "2", "-o", "outDup", "dup"])).stdout,
  );
  assert.deepEqual(
    res.map((r) => r.status),
    ["ok", "skipped"],
  );
  assert.match(
    res[1]!.reason as string,
    /duplicate: same SOP Instance UID and output as dup\/a\.dcm/,
  );
});

test("duplicates without a map of every output: a run into a folder of an earlier run replaces its files; the same instance twice in one run is skipped", async () => {
  const { mkdirSync, copyFileSync, statSync: st } = await import("node:fs");
  mkdirSync(join(root, "dup2"), { recursive: true });
  copyFileSync(join(root, "F/B/pt.dcm"), join(root, "dup2/a.dcm"));
  const first = ndjson((await anon(["--secret-file", "k1", "-o", "outDup2", "dup2"])).stdout);
  assert.deepEqual(
    first.map((r) => r.status),
    ["ok"],
  );
  const before = st(join(root, first[0]!.out as string)).ino;
  await new Promise((r) => setTimeout(r, 50));
  const again = ndjson(
    (await anon(["--secret-file", "k1", "-o", "outDup2", "dup2", "dup2/a.dcm"])).stdout,
  );
  assert.deepEqual(
    again.map((r) => r.status),
    ["ok", "skipped"],
    "replaced, then a duplicate of this run",
  );
  assert.notEqual(
    st(join(root, first[0]!.out as string)).ino,
    before,
    "the earlier run's file was replaced",
  );
});

test("files that are not DICOM in an input folder (a retrieve journal) are reported skipped; --non-dicom error makes them errors", async () => {
  const { mkdirSync, copyFileSync } = await import("node:fs");
  mkdirSync(join(root, "mixed"), { recursive: true });
  copyFileSync(join(root, "F/B/pt.dcm"), join(root, "mixed/pt.dcm"));
  writeFileSync(join(root, "mixed/.movescu-ts.journal"), '{"study":"1.2.3"}\n');
  const r = await anon(["--secret-file", "k1", "-o", "outMixed", "mixed"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    ndjson(r.stdout).map((x) => [x.in, x.status]),
    [
      ["mixed/.movescu-ts.journal", "skipped"],
      ["mixed/pt.dcm", "ok"],
    ],
  );
  const e = await anon(["--secret-file", "k1", "--non-dicom", "error", "-o", "outMixed2", "mixed"]);
  assert.equal(e.code, 3);
});

test("check 10 (ages): birth date shifted with the study dates keeps the age; --age-cap 89 writes 090Y", async () => {
  const r = ndjson(
    (
      await anon([
        ...BASE,
        "--retain-patient-characteristics",
        "--birthdate",
        "shift",
        "-o",
        "out10a",
        "F/A/ct1.dcm",
      ])
    ).stdout,
  )[0]!;
  assert.equal(r.status, "ok", JSON.stringify(r));
  const j = dcm2json(join(root, r.out as string));
  const birth = String(j["00100030"]?.Value?.[0]);
  const study = String(j["00080020"]?.Value?.[0]);
  assert.notEqual(birth, "19700315");
  assert.deepEqual(j["00101010"]?.Value, ["052Y"]);
  const years =
    Number(study.slice(0, 4)) -
    Number(birth.slice(0, 4)) -
    (study.slice(4) < birth.slice(4) ? 1 : 0);
  assert.equal(years, 52, `${birth} → ${study}`);
  const old = ndjson(
    (
      await anon([
        "--secret-file",
        "k1",
        "--retain-patient-characteristics",
        "--age-cap",
        "89",
        "-o",
        "out10b",
        "age",
      ])
    ).stdout,
  )[0]!;
  assert.equal(old.status, "ok", JSON.stringify(old));
  assert.deepEqual(dcm2json(join(root, old.out as string))["00101010"]?.Value, ["090Y"]);
});

test("CTP lookup table (.properties, ptid/ keys) as --id-map; a patient missing from it is quarantined", async () => {
  writeFileSync(
    join(root, "lookup.properties"),
    "# CTP lookup table\nptid/PID7788990 = 0\nacc/ACC123 = 9\n",
  );
  const res = ndjson(
    (
      await anon([
        "--secret-file",
        "k1",
        "--id-map",
        "lookup.properties",
        "-o",
        "outCtp",
        "F/B/pt.dcm",
        "F/A/ct1.dcm",
      ])
    ).stdout,
  );
  assert.equal(res[0]!.status, "ok");
  assert.equal(res[0]!.patient, "0");
  assert.deepEqual(dcm2json(join(root, res[0]!.out as string))["00100020"]?.Value, ["0"]);
  assert.equal(res[1]!.status, "quarantined");
});

test("explain prints the action for every element, nested ones by path, and writes nothing", async () => {
  const r = await anon(["explain", "--secret-file", "k1", "F/B/pt.dcm"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = ndjson(r.stdout);
  assert.ok(
    lines.some(
      (l) => l.element === "(0040,0275)[0].(0008,0050)" && /^X /.test(l.action as string),
    ) || lines.some((l) => l.element === "(0040,0275)" && /^X /.test(l.action as string)),
  );
  assert.ok(
    lines.some((l) => l.element === "(0029,1010)" && /^X/.test(l.action as string)),
    "private element removed",
  );
  assert.ok(lines.some((l) => l.keyword === "PatientID" && /pseudonym/.test(l.action as string)));
  assert.equal(lines.at(-1)!.status, "ok");
});

test("--in-place replaces the input atomically with its de-identified version", async () => {
  const { mkdirSync, copyFileSync } = await import("node:fs");
  mkdirSync(join(root, "inplace"), { recursive: true });
  copyFileSync(join(root, "F/B/pt.dcm"), join(root, "inplace/pt.dcm"));
  const r = await anon(["--secret-file", "k1", "--in-place", "inplace/pt.dcm"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(ndjson(r.stdout)[0]!.out, "inplace/pt.dcm");
  const j = dcm2json(join(root, "inplace/pt.dcm"));
  assert.deepEqual(j["00120062"]?.Value, ["YES"]);
  assert.deepEqual(readdirSync(join(root, "inplace")), ["pt.dcm"], "no temporary file left");
});

test("MID rule files: --drop-rules skips matching files, --blank-vr and --blank-tags empty values (UIDs remapped, classes kept)", async () => {
  writeFileSync(
    join(root, "anon_imgs.json"),
    JSON.stringify({ Modality: ["sr"], SeriesDescription: ["report"] }),
  );
  writeFileSync(join(root, "anon_tags.json"), JSON.stringify({ CS: ["Modality"] }));
  const res = ndjson(
    (
      await anon([
        "--secret-file",
        "k1",
        "--drop-rules",
        "anon_imgs.json",
        "--blank-vr",
        "DA,DT,UI",
        "--blank-tags",
        "anon_tags.json",
        "-o",
        "outMid",
        "F/A/sr.dcm",
        "F/B/pt.dcm",
      ])
    ).stdout,
  );
  assert.equal(res[0]!.status, "skipped");
  assert.equal(res[0]!.reason, 'drop-rules: Modality contains "sr"');
  assert.equal(res[1]!.status, "ok", JSON.stringify(res[1]));
  const j = walk(dcm2json(join(root, res[1]!.out as string)));
  for (const e of j.filter((x) => x.vr === "DA" || x.vr === "DT"))
    assert.deepEqual(e.values, [], e.path);
  assert.deepEqual(j.find((e) => e.tag === "00080060")?.values ?? [], []);
  assert.deepEqual(j.find((e) => e.tag === "00080016")?.values, ["1.2.840.10008.5.1.4.1.1.128"]);
  assert.match(String(j.find((e) => e.tag === "0020000D")?.values[0]), /^2\.25\.\d+$/);
  const bad = await anon(["--secret-file", "k1", "--blank-tags", "anon_imgs.json", "-o", "x", "F"]);
  assert.equal(bad.code, 2);
});
