/**
 * Every option of DCMTK's network tools is either implemented by our tool or
 * refused with a message naming it, and the refused ones are exactly the
 * ones dcmtk-shims's README lists.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DCMTK_OPTIONS } from "../packages/dimse/src/cli/dcmtk-options.js";
import {
  parseDcmtkArgs,
  UnknownOptionError,
  type OptionSpec,
} from "../packages/dimse/src/cli/index.js";
import { OPTIONS as findscu } from "../packages/findscu-ts/src/options.js";
import { options as retrieve } from "../packages/movescu-ts/src/options.js";
import { OPTIONS as storescu } from "../packages/storescu-ts/src/options.js";
import { OPTIONS as storescp } from "../packages/storescp-ts/src/options.js";
import { OPTIONS as echoscu } from "../packages/echoscu-ts/src/main.js";
import { ROOT } from "@dicom-pipes/test-support/bins";

const OURS: Record<string, OptionSpec[]> = {
  findscu,
  movescu: retrieve("movescu-ts"),
  getscu: retrieve("getscu-ts"),
  storescu,
  storescp,
  echoscu,
};

/** The README's "not implemented" table: DCMTK tool → options (the `all` row applies to every tool). */
function documented(): Map<string, Set<string>> {
  const text = readFileSync(join(ROOT, "packages/dcmtk-shims/README.md"), "utf8");
  const section = text.slice(text.indexOf("DCMTK options not implemented"));
  const rows = new Map<string, Set<string>>();
  for (const m of section.matchAll(
    /^\| (all|findscu|movescu|getscu|storescu|storescp|echoscu) \| (.*) \|$/gm,
  )) {
    rows.set(m[1]!, new Set([...m[2]!.matchAll(/`([^`]+)`/g)].map((x) => x[1]!)));
  }
  return rows;
}

test("a DCMTK option is implemented, or refused by name and listed in dcmtk-shims's README", () => {
  const doc = documented();
  assert.equal(doc.size, 7, "README table rows");
  for (const [tool, options] of Object.entries(DCMTK_OPTIONS)) {
    const ours = OURS[tool]!;
    const flags = new Set(ours.flatMap((o) => o.flags));
    const listed = new Set([...doc.get("all")!, ...doc.get(tool)!]);
    for (const [short, long] of options) {
      const implemented = flags.has(long) || (short !== "" && flags.has(short));
      const name = short || long;
      if (implemented) {
        assert.ok(!doc.get(tool)!.has(name), `${tool} ${name} is implemented but listed as not`);
        continue;
      }
      assert.ok(
        listed.has(name),
        `${tool} ${name} is not implemented and not listed in the README`,
      );
      for (const given of short ? [short, long] : [long]) {
        assert.throws(
          () => parseDcmtkArgs(`${tool}-ts`, [given, "127.0.0.1", "104"], ours),
          (e: unknown) =>
            e instanceof UnknownOptionError &&
            e.message ===
              `DCMTK ${tool}'s option ${short ? `${short} (${long})` : long} is not implemented in ${tool}-ts`,
          `${tool} ${given}`,
        );
      }
    }
  }
});

test("an option DCMTK does not have either stays 'Unknown option'", () => {
  assert.throws(
    () => parseDcmtkArgs("findscu-ts", ["--no-such-option"], findscu),
    /^UnknownOptionError: Unknown option --no-such-option$|Unknown option --no-such-option/,
  );
});
