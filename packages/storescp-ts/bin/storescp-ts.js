#!/usr/bin/env node
// Runs dist/main.bundle.cjs, built from src/ by esbuild (packages/dimse/scripts/bundle.mjs).
const { launch } = require("../../dimse/scripts/launch.cjs");
// Objects in flight get FINISH_MS to arrive before a stuck process is ended.
launch(__filename, ({ FINISH_MS, main, processIo }) =>
  main(process.argv.slice(2), processIo(FINISH_MS + 5000)),
);
