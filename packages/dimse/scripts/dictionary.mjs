#!/usr/bin/env node
// Build step: write dist/dictionary.json, a compact copy of dcmjs' PS3.6
// dictionary ([tag, name, vr, vm] rows), so the tools load it in a few
// milliseconds instead of loading all of dcmjs at start-up.
import { createRequire } from "node:module";
import { mkdirSync, writeFileSync } from "node:fs";

const require = createRequire(import.meta.url);
const nameMap = require("dcmjs").data.DicomMetaDictionary.nameMap;
const rows = [];
for (const e of Object.values(nameMap)) {
  const m = /^\(([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)$/.exec(e.tag);
  if (m) rows.push([parseInt(m[1] + m[2], 16) >>> 0, e.name, e.vr, e.vm]);
}
rows.sort((a, b) => a[0] - b[0]);
mkdirSync(new URL("../dist/", import.meta.url), { recursive: true });
writeFileSync(new URL("../dist/dictionary.json", import.meta.url), JSON.stringify(rows));
