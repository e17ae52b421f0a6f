/** A reader thread of `dcmdir index`: reads the batches of files it is sent and posts back their rows. */
import { parentPort } from "node:worker_threads";
import { readRow, type FileToRead } from "./read-header.js";

parentPort!.on("message", (m: { id: number; files: FileToRead[] }) => {
  parentPort!.postMessage({ id: m.id, results: m.files.map(readRow) });
});
