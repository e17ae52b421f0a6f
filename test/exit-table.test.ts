/**
 * One exit table: the README's "Exit status (all tools)" table is the
 * table of `cli/exit.ts` (`EXIT_MEANINGS`, `SIGNAL_MEANINGS`), row by row,
 * and every status a tool can return (`Exit`) has a meaning there.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { EXIT_MEANINGS, Exit, SIGNAL_MEANINGS, exitTable } from "@dicom-pipes/dimse/cli";

async function readmeTable(): Promise<Map<number, string>> {
  const text = await readFile(new URL("../README.md", import.meta.url), "utf8");
  const start = text.indexOf("### Exit status (all tools)");
  assert.ok(start >= 0, "README has an Exit status section");
  const rows = new Map<number, string>();
  for (const line of text.slice(start).split("\n").slice(1)) {
    if (line.trim() === "" && rows.size) break;
    const m = /^\| (\d+) \| (.+) \|$/.exec(line);
    if (m) rows.set(Number(m[1]), m[2]!);
  }
  return rows;
}

test("the README's exit table is cli/exit.ts's, row by row", async () => {
  const expected = new Map<number, string>(
    Object.entries({ ...EXIT_MEANINGS, ...SIGNAL_MEANINGS }).map(([k, v]) => [Number(k), v]),
  );
  assert.deepEqual(await readmeTable(), expected);
});

test("every status in Exit has a meaning, and --help's table prints it", () => {
  for (const code of Object.values(Exit)) {
    const meaning = EXIT_MEANINGS[code] ?? SIGNAL_MEANINGS[code];
    assert.ok(meaning, `exit status ${code} has a meaning`);
    if (!(code in SIGNAL_MEANINGS)) assert.match(exitTable([code]), new RegExp(`  ${code} +`));
  }
});
