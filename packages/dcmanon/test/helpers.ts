// Shared by dcmanon's tests: the fixture generator (pydicom), DCMTK's dcm2json, Python's date arithmetic.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Debian's python3, which has pydicom. */
export const PY = "/usr/bin/python3";
const HERE = new URL(".", import.meta.url).pathname;

export type Json = Record<string, { vr: string; Value?: unknown[]; InlineBinary?: string }>;

/** A temporary folder holding the fixtures of test/fixtures.py (extra arguments: the table TSV). */
export function makeFixtures(prefix: string, extra: string[] = []): string {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const r = spawnSync(PY, [join(HERE, "fixtures.py"), root, ...extra.map((e) => join(root, e))], {
    encoding: "utf8",
  });
  assert.equal(r.status, 0, `fixtures.py (python3-pydicom needed): ${r.stderr}`);
  return root;
}

/** Every file under a folder, sorted. */
export function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else out.push(p);
  }
  return out;
}

/** DCMTK's dcm2json; pydicom's to_json for ISO 2022 IR 87, which DCMTK's iconv build cannot convert. */
export function dcm2json(path: string): Json {
  const r = spawnSync("dcm2json", [path], { encoding: "utf8" });
  if (r.status !== 0 && /ISO 2022 IR 87/.test(r.stderr)) {
    const p = spawnSync(
      PY,
      ["-c", "import sys, pydicom; print(pydicom.dcmread(sys.argv[1]).to_json())", path],
      { encoding: "utf8" },
    );
    assert.equal(p.status, 0, p.stderr);
    return JSON.parse(p.stdout) as Json;
  }
  assert.equal(r.status, 0, `dcm2json ${path}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Json;
}

/** A YYYYMMDD date moved by whole days, by Python's datetime. */
export function shiftedDate(yyyymmdd: string, days: number): string {
  const r = spawnSync(
    PY,
    [
      "-c",
      "import sys, datetime; d = datetime.datetime.strptime(sys.argv[1], '%Y%m%d') + datetime.timedelta(days=int(sys.argv[2])); print(d.strftime('%Y%m%d'))",
      yyyymmdd,
      String(days),
    ],
    { encoding: "utf8" },
  );
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}
