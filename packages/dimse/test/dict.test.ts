// The data dictionary as the tools read it (dist/dictionary.bin, written at build time by
// scripts/dictionary.mjs): every PS3.6 row of dcmjs answers by tag and by keyword.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  allKeywords,
  dcmjsDictionaryRows,
  encodeDictionary,
  lookupKeyword,
  lookupTag,
} from "../src/dicom/dict.js";

test("every dcmjs row is found by tag and by keyword, with dcmjs' name, VR and VM", () => {
  const rows = dcmjsDictionaryRows();
  assert.ok(rows.length > 4000, `${rows.length} rows`);
  const ambiguous: Record<string, string> = { ox: "OW", xs: "US", lt: "US", up: "UL", na: "NA" };
  const current = new Set(rows.filter((r) => !r[1].startsWith("RETIRED_")).map((r) => r[1]));
  for (const [tag, name, vr, vm] of rows) {
    const e = lookupTag(tag);
    assert.ok(e, `(${tag.toString(16)}) ${name}`);
    assert.equal(e.dumpName, name);
    assert.equal(e.vr, ambiguous[vr] ?? vr);
    assert.equal(e.vm, vm);
    assert.equal(e.retired, name.startsWith("RETIRED_"));
    const keyword = name.replace(/^RETIRED_/, "");
    assert.equal(e.keyword, keyword);
    const byKeyword = lookupKeyword(name);
    assert.ok(byKeyword, name);
    assert.equal(byKeyword.keyword, keyword);
    // A keyword both current and retired names the current attribute.
    if (current.has(keyword)) assert.equal(byKeyword.retired, false, name);
  }
  assert.equal(new Set(allKeywords()).size, allKeywords().length);
  assert.equal(lookupKeyword("PatientName")?.tag, 0x00100010);
  assert.equal(lookupKeyword("NoSuchKeyword"), undefined);
  assert.equal(lookupTag(0x00100011), undefined);
  // Repeating groups: overlay 6002 is listed as 6000.
  assert.equal(lookupTag(0x60020010)?.keyword, "OverlayRows");
});

test("encodeDictionary: a repeated tag keeps its last row, a shared keyword its current attribute", () => {
  const bytes = encodeDictionary([
    [0x00200010, "B", "CS", "1"],
    [0x00100010, "RETIRED_A", "PN", "1"],
    [0x00100020, "A", "LO", "1"],
    [0x00200010, "C", "SH", "1-n"],
  ]);
  const n = bytes.readUInt32LE(0);
  const k = bytes.readUInt32LE(4);
  assert.equal(n, 3, "three tags");
  assert.equal(k, 2, "keywords A and C");
  const tags = [0, 1, 2].map((i) => bytes.readUInt32LE(8 + 4 * i));
  assert.deepEqual(tags, [0x00100010, 0x00100020, 0x00200010]);
  const order = [0, 1].map((i) => bytes.readUInt32LE(8 + 4 * n + 4 * i));
  assert.deepEqual(order, [1, 2], "A → (0010,0020), the current one; C → (0020,0010)");
  const text = bytes.subarray(8 + 4 * n + 4 * k + 4 * (n + 1)).toString("latin1");
  assert.equal(text, "RETIRED_A\tPN\t1A\tLO\t1C\tSH\t1-n");
});
