#!/usr/bin/env node
// Runs dist/main.bundle.cjs, built from src/ by esbuild (packages/dimse/scripts/bundle.mjs).
const { launch } = require("../../dimse/scripts/launch.cjs");
launch(__filename);
