/**
 * The +P listener (C-MOVE sub-associations) is an acceptor anyone can
 * reach while movescu-ts runs: it applies -td, caps messages held in
 * memory, and stores only what arrives as C-STORE. Tested in process on
 * the real listener (Receiving.listen) over loopback.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { PassThrough } from "node:stream";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@dicom-pipes/dimse/cli";
import { layoutFor } from "@dicom-pipes/dimse/records";
import type { DicomServer } from "@dicom-pipes/dimse/net";
import { Receiving } from "../src/receive.js";
import {
  echoWorks,
  endlessEcho,
  FLOOD_LIMIT,
  rawAssociation,
} from "@dicom-pipes/test-support/hostile";

let dir: string;
let listener: DicomServer;
const log = new PassThrough();
let logged = "";
log.on("data", (b: Buffer) => (logged += b.toString()));

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "movescu-listener-"));
  const receive = new Receiving({
    od: dir,
    layout: layoutFor("dcmtk"),
    info: false,
    ignore: false,
    fsync: false,
    tsPref: "sender",
    log: createLogger("movescu-ts", log),
  });
  await receive.ready();
  listener = await receive.listen(0, {
    bind: "127.0.0.1",
    acseTimeoutMs: 2000,
    dimseTimeoutMs: 1000,
  });
});
after(async () => {
  await listener?.close(0);
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("-td applies to the listener: an idle sub-association is aborted", async () => {
  const peer = await rawAssociation(listener.port);
  const t0 = Date.now();
  assert.ok(await peer.closed(5000), "closed");
  assert.ok(peer.types().includes(0x07), "with an A-ABORT");
  assert.ok(Date.now() - t0 >= 900, `after ${Date.now() - t0} ms`);
  assert.match(logged, /No DIMSE message for 1 s/);
});

test("a C-ECHO with an endless data set is aborted at the default cap; the listener keeps serving", async () => {
  const r = await endlessEcho(listener.port);
  assert.ok(
    r.ended && r.sent < FLOOD_LIMIT,
    `association ended: ${r.ended}, after ${r.sent} bytes`,
  );
  assert.ok(await echoWorks(listener.port));
});
