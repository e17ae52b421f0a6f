// A worker thread of a bundled tool (app/workers.ts): runs the tool's bundle
// through the launcher, code cache included, without calling its main; the
// bundle's serveWorker() serves the thread.
"use strict";
const { workerData } = require("node:worker_threads");
const { fileURLToPath } = require("node:url");
const { loadBundle } = require("./launch.cjs");

loadBundle(fileURLToPath(workerData.module));
