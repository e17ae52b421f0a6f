#!/usr/bin/env node
// One file, built from src/ by esbuild (packages/dimse/scripts/bundle.mjs).
import { FINISH_MS, main, processIo } from "../dist/main.bundle.js";
// Objects in flight get FINISH_MS to arrive before a stuck process is ended.
process.exitCode = await main(process.argv.slice(2), processIo(FINISH_MS + 5000));
