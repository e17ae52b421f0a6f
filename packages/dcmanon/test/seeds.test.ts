// PACSIFIER and Karnak formats: Karnak's private pseudonym/shift tags read on input, the map written as
// PACSIFIER's new_ids.json/day_shift.json, and the template layout. Fixtures from test/fixtures.py
// (pydicom), outputs read with DCMTK's dcm2json; the real bin is spawned.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ndjson, runBin } from "@dicom-pipes/test-support/bins";
import { dcm2json, makeFixtures, shiftedDate } from "./helpers.js";

let root = "";

before(() => {
  root = makeFixtures("dcmanon-seeds-");
  writeFileSync(join(root, "k1"), "k1-0123456789abcdef0123456789abcdef-secret");
});

async function anon(args: string[]) {
  return runBin("dcmanon", ["--secret-file", "k1", ...args], { cwd: root });
}

test('Karnak tags: pseudonym and day shift read from (000B,"CHUV_DEV_TML",01/03) found by creator; a file without them is quarantined; template layout on de-identified values; PACSIFIER maps written', async () => {
  const r = await anon([
    "--read-pseudonym-from",
    '(000B,"CHUV_DEV_TML",01)',
    "--read-shift-from",
    '(000B,"CHUV_DEV_TML",03)',
    "--retain-modified-dates",
    "--layout",
    "template",
    "--template",
    "{PatientID}/{StudyDate}/{SeriesNumber:05}/{SOPInstanceUID}.dcm",
    "--map-out",
    "mapK",
    "--map-format",
    "pacsifier",
    "-o",
    "outK",
    "K/tagged.dcm",
    "K/untagged.dcm",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const [ok, miss] = ndjson(r.stdout);
  assert.equal(ok!.status, "ok", r.stdout);
  assert.equal(ok!.patient, "P0042");
  const ds = dcm2json(join(root, ok!.out as string));
  assert.deepEqual(ds["00100020"]?.Value, ["P0042"]);
  const date = shiftedDate("20220815", -21);
  assert.deepEqual(ds["00080020"]?.Value, [date]);
  assert.equal(ok!.out, `outK/P0042/${date}/00001/${ds["00080018"]!.Value![0]}.dcm`);
  assert.deepEqual(
    Object.keys(ds).filter((t) => t.startsWith("000B")),
    [],
    "the Karnak block is removed",
  );
  assert.equal(miss!.status, "quarantined");
  assert.match(miss!.reason as string, /no pseudonym in \(000B,"CHUV_DEV_TML",01\)/);
  // PACSIFIER's new_ids.json / day_shift.json: {key: pseudonym}, {key: "days"}, mode 0600.
  assert.deepEqual(JSON.parse(readFileSync(join(root, "mapK/new_ids.json"), "utf8")), {
    PID5656565: "P0042",
  });
  assert.deepEqual(JSON.parse(readFileSync(join(root, "mapK/day_shift.json"), "utf8")), {
    PID5656565: "-21",
  });
  assert.equal(statSync(join(root, "mapK/new_ids.json")).mode & 0o777, 0o600);
  assert.match(readFileSync(join(root, "mapK/map.ndjson"), "utf8"), /"kind":"uid"/);
});

test("--map-format pacsifier with --id-map-key dirname writes sub-XXXX keys, read back by --id-map/--day-shift-map to the same outputs", async () => {
  const r = await anon([
    "--id-map-key",
    "dirname",
    "--pseudonym-format",
    "S{hmac:6}",
    "--retain-modified-dates",
    "--date-shift",
    "-40:-10",
    "--map-out",
    "mapP",
    "--map-format",
    "pacsifier",
    "-o",
    "outP1",
    "P",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const first = ndjson(r.stdout);
  assert.deepEqual(
    first.map((x) => x.status),
    ["ok", "ok"],
  );
  const ids = JSON.parse(readFileSync(join(root, "mapP/new_ids.json"), "utf8")) as Record<
    string,
    string
  >;
  const shifts = JSON.parse(readFileSync(join(root, "mapP/day_shift.json"), "utf8")) as Record<
    string,
    string
  >;
  assert.deepEqual(Object.keys(ids).sort(), ["sub-1234", "sub-9999"]);
  assert.equal(ids["sub-1234"], first[0]!.patient);
  for (const v of Object.values(shifts)) assert.match(v, /^-(1\d|[23]\d|40)$/);
  const again = await anon([
    "--id-map",
    "mapP/new_ids.json",
    "--id-map-key",
    "dirname",
    "--day-shift-map",
    "mapP/day_shift.json",
    "--retain-modified-dates",
    "-o",
    "outP2",
    "P",
  ]);
  assert.equal(again.code, 0, again.stderr);
  const second = ndjson(again.stdout);
  for (const [i, x] of first.entries()) {
    assert.deepEqual(
      readFileSync(join(root, second[i]!.out as string)),
      readFileSync(join(root, x.out as string)),
      `${x.in}: same bytes`,
    );
  }
});

test("usage errors: --template without --layout template, an unknown keyword in it, --read-shift-from without dates, a bad element reference, --map-format pacsifier without --map-out", async () => {
  const cases: Array<[string[], RegExp]> = [
    [
      ["--template", "{PatientID}/{SOPInstanceUID}.dcm", "-o", "x", "K"],
      /--template needs --layout template/,
    ],
    [
      [
        "--layout",
        "template",
        "--template",
        "{PatientIdentity}/{SOPInstanceUID}.dcm",
        "-o",
        "x",
        "K",
      ],
      /unknown keyword \{PatientIdentity\}/,
    ],
    [
      ["--read-shift-from", '(000B,"CHUV_DEV_TML",03)', "-o", "x", "K"],
      /--read-shift-from needs --retain-modified-dates/,
    ],
    [
      ["--read-pseudonym-from", "(000B,CHUV,01)", "-o", "x", "K"],
      /--read-pseudonym-from \(000B,CHUV,01\): expected \(gggg,"CREATOR",ee\)/,
    ],
    [
      ["--map-format", "pacsifier", "-o", "x", "K"],
      /--map-format pacsifier needs --map-out FOLDER/,
    ],
  ];
  for (const [args, re] of cases) {
    const r = await anon(args);
    assert.equal(r.code, 2, `${args.join(" ")}\n${r.stderr}`);
    assert.match(r.stderr, re);
  }
});

test("--pseudonym-format {seq:N}: patients numbered 1, 2… in the order of HMAC(key, 'seq:' + issuer|PatientID), whatever the input order and -j; - refused", async () => {
  const fmt = ["--pseudonym-format", "SUB{seq:3}"];
  const a = await anon([...fmt, "-j", "1", "-o", "seq1", "F/A", "F/B", "P"]);
  const b = await anon([...fmt, "-j", "4", "-o", "seq2", "P", "F/B", "F/A"]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const byInput = (stdout: string) =>
    new Map(ndjson(stdout).map((r) => [r.in as string, `${r.status} ${r.patient}`]));
  const ra = byInput(a.stdout);
  assert.deepEqual(byInput(b.stdout), ra, "the same pseudonym for every input");
  // The numbering, by the definition, from the inputs as DCMTK reads them.
  const secret = readFileSync(join(root, "k1"));
  const keyOf = (path: string) => {
    const ds = dcm2json(join(root, path));
    const pid = String(ds["00100020"]?.Value?.[0] ?? "").trim();
    const issuer = String(ds["00100021"]?.Value?.[0] ?? "").trim();
    return issuer ? `${issuer}|${pid}` : pid;
  };
  const keys = [...new Set([...ra.keys()].map(keyOf))];
  const order = keys
    .map((k) => ({ k, h: createHmac("sha256", secret).update(`seq:${k}`).digest("hex") }))
    .sort((x, y) => (x.h < y.h ? -1 : 1));
  assert.equal(order.length, 4, `four patients: ${keys.join(", ")}`);
  for (const [input, result] of ra) {
    const n = order.findIndex((o) => o.k === keyOf(input)) + 1;
    assert.equal(result, `ok SUB${String(n).padStart(3, "0")}`, input);
  }
  const s = await runBin("dcmanon", ["--secret-file", "k1", ...fmt, "-o", "seq3", "-"], {
    cwd: root,
    input: "F/A\n",
  });
  assert.equal(s.code, 2);
  assert.match(s.stderr, /\{seq:N\}.*not -/);
});
