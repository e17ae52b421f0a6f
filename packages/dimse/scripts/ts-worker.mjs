// A worker thread started from the TypeScript sources (tests run under tsx,
// whose loader a thread does not inherit): imports the module through tsx's
// API; its serveWorker() serves the thread (app/workers.ts).
import { workerData } from "node:worker_threads";
import { tsImport } from "tsx/esm/api";

await tsImport(workerData.module, workerData.module);
