/** findscu-ts as a command: help, version, usage errors, exit codes. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { runBin, runMain } from "@dicom-pipes/test-support/bins";
import { main } from "../src/main.js";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
};

test("--help prints grouped help on stdout and exits 0", async () => {
  const r = await runBin("findscu-ts", ["--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^findscu-ts: DICOM query \(C-FIND\) SCU/);
  for (const flag of [
    "-aet",
    "--aetitle",
    "-aec",
    "-k",
    "--key",
    "-S",
    "-P",
    "-W",
    "-X",
    "-od",
    "--queries",
    "--split-dates",
    "--format",
    "Exit status",
  ]) {
    assert.ok(r.stdout.includes(flag), `help mentions ${flag}`);
  }
  assert.equal(r.stderr, "");
});

test("no arguments prints help (as DCMTK findscu does)", async () => {
  const r = await runMain(main, []);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /usage: findscu-ts \[options\] peer port/);
});

test("--version prints the package version", async () => {
  const r = await runBin("findscu-ts", ["--version"]);
  assert.equal(r.code, 0);
  assert.ok(r.stdout.startsWith(`findscu-ts ${pkg.version} (dicom-pipes; `), r.stdout);
});

test("unknown and bundled options are usage errors (exit 2) with a hint", async () => {
  for (const bad of ["-vS", "--nope", "+zz"]) {
    const r = await runMain(main, [bad, "localhost", "104", "-k", "PatientID"]);
    assert.equal(r.code, 2, bad);
    assert.equal(
      r.stderr,
      `E: findscu-ts: Unknown option ${bad}\nTry 'findscu-ts --help' for more information.\n`,
    );
    assert.equal(r.stdout, "");
  }
});

test("missing parameters and bad values are usage errors", async () => {
  let r = await runMain(main, ["-S", "-k", "PatientID"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Missing parameter peer/);
  r = await runMain(main, ["-S", "localhost", "-k", "PatientID"]);
  assert.match(r.stderr, /Missing parameter port/);
  r = await runMain(main, ["-S", "localhost", "notaport", "-k", "PatientID"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Invalid parameter value notaport/);
  r = await runMain(main, ["-S", "localhost", "104", "-k"]);
  assert.match(r.stderr, /Missing parameter for option -k/);
  r = await runMain(main, ["-S", "-v", "-ll", "debug", "localhost", "104", "-k", "PatientID"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--log-level not allowed with --verbose, --debug or --quiet/);
});

test("a bad -k key exits 2 with DCMTK's message (DCMTK findscu exits 0 without sending)", async () => {
  for (const k of ["patientid=X", "00100020=X", "PatientID = X", "NoSuchKeyword"]) {
    const r = await runMain(main, ["-S", "127.0.0.1", "9", "-k", k]);
    assert.equal(r.code, 2, k);
    assert.match(r.stderr, /Bad override key\/path: /);
    assert.match(r.stderr, /Unable to parse tag\/dictionary name at beginning of path/);
  }
});

test("-X with a missing output directory exits 45 before connecting", async () => {
  const r = await runMain(main, [
    "-S",
    "-X",
    "-od",
    "/nonexistent/dir",
    "127.0.0.1",
    "9",
    "-k",
    "PatientID",
  ]);
  assert.equal(r.code, 45);
  assert.match(r.stderr, /specified output directory does not exist/);
});

test("a missing query file is a usage error", async () => {
  const r = await runMain(main, ["-S", "127.0.0.1", "9", "/nonexistent/query.dcm"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /cannot access file: \/nonexistent\/query\.dcm/);
});
