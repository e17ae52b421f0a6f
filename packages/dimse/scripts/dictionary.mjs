#!/usr/bin/env node
// Build step (after tsc): write dist/dictionary.bin, dcmjs' PS3.6 dictionary
// in the compact form src/dicom/dict.ts reads (encodeDictionary), so the
// tools look tags up without loading dcmjs or parsing anything at start-up.
import { writeFileSync } from "node:fs";
import { dcmjsDictionaryRows, encodeDictionary } from "../dist/dicom/dict.js";

writeFileSync(
  new URL("../dist/dictionary.bin", import.meta.url),
  encodeDictionary(dcmjsDictionaryRows()),
);
