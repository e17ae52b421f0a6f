/**
 * movescu-ts pacing over long runs: 10 000 paced requests against a
 * scripted C-MOVE SCP (answering each at once with Success) leave the
 * abort signal's listeners and the heap flat, and print no
 * MaxListenersExceededWarning.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable, Writable } from "node:stream";
import { main } from "../src/main.js";
import { runBin } from "@dicom-pipes/test-support/bins";
import { sleep } from "@dicom-pipes/dimse/app";
import { scriptedMoveScp, type MoveScp } from "./scripted-move.js";

setFlagsFromString("--expose-gc");
/** A full collection, so that heap figures show what is retained. */
const gc = runInNewContext("gc") as () => void;

let dir: string;
let scp: MoveScp;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "movescu-pacing-"));
  scp = await scriptedMoveScp();
});

after(async () => {
  await scp?.close();
  await rm(dir, { recursive: true, force: true });
});

const records = (n: number) =>
  Array.from(
    { length: n },
    (_, i) => `{"QueryRetrieveLevel":"STUDY","StudyInstanceUID":"1.2.3.${i + 1}"}\n`,
  ).join("");

test("sleep() leaves no abort listener behind once the wait is over", async () => {
  const ctrl = new AbortController();
  for (let i = 0; i < 50; i++) await sleep(0, ctrl.signal);
  assert.equal(getEventListeners(ctrl.signal, "abort").length, 0);
  const pending = sleep(60_000, ctrl.signal);
  assert.equal(getEventListeners(ctrl.signal, "abort").length, 1);
  ctrl.abort("SIGTERM");
  await pending; // an abort still ends the wait at once
});

test("10 000 requests with --throttle and --batch-wait: abort listeners and heap stay flat", {
  timeout: 240_000,
}, async () => {
  const n = 10_000;
  const ctrl = new AbortController();
  const listeners: number[] = [];
  const heap: number[] = [];
  let results = 0;
  let carry = "";
  const stdout = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const lines = (carry + chunk.toString("utf8")).split("\n");
      carry = lines.pop()!;
      for (const l of lines) {
        if (!l) continue;
        results++;
        assert.equal(JSON.parse(l).status, "Success");
        if (results % 1000 === 0) {
          listeners.push(getEventListeners(ctrl.signal, "abort").length);
          gc();
          heap.push(process.memoryUsage().heapUsed);
        }
      }
      cb();
    },
  });
  const stderr = new PassThrough();
  let err = "";
  stderr.on("data", (c: Buffer) => (err += c.toString("utf8")));
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on("warning", onWarning);
  const sent = scp.moves;
  try {
    const code = await main(
      [
        "-S",
        "-aec",
        "SCRIPTED",
        "--no-journal",
        "--throttle",
        "0.0001",
        "--batch-size",
        "100",
        "--batch-wait",
        "0.0001",
        "127.0.0.1",
        String(scp.port),
        "-",
      ],
      {
        stdin: Readable.from([records(n)]),
        stdout,
        stderr,
        env: {},
        cwd: dir,
        signal: ctrl.signal,
      },
    );
    assert.equal(code, 0, err);
  } finally {
    process.off("warning", onWarning);
  }
  assert.equal(results, n);
  assert.equal(scp.moves - sent, n);
  assert.deepEqual(
    warnings.filter((w) => w === "MaxListenersExceededWarning"),
    [],
  );
  // At most the one pending wait listens to the signal (0 once it is over).
  assert.ok(
    Math.max(...listeners) <= 1,
    `abort listeners every 1000 requests: ${listeners.join(", ")}`,
  );
  // Retained heap after a full collection: flat, not growing with the number of requests.
  const growth = heap[heap.length - 1]! - heap[1]!;
  assert.ok(
    growth < 2 * 1024 * 1024,
    `heap grew ${(growth / 1048576).toFixed(1)} MB between request 2000 and ${n}: ${heap.map((h) => (h / 1048576).toFixed(1)).join(", ")}`,
  );
});

test("movescu-ts --throttle prints no MaxListenersExceededWarning over many requests", async () => {
  const r = await runBin(
    "movescu-ts",
    [
      "-S",
      "-aec",
      "SCRIPTED",
      "--no-journal",
      "--no-output",
      "--throttle",
      "0.0001",
      "127.0.0.1",
      String(scp.port),
      "-",
    ],
    { input: records(200) },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /MaxListenersExceeded/);
});
