/** echoscu-ts as a command, against real SCPs on loopback: the dev PACS, a refused port, a rejecting and a failing SCP. */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFileSync, rm } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { CommandField, negotiateContexts, serve, type DicomServer } from "@dicom-pipes/dimse/net";
import { SopClass, UNCOMPRESSED_SYNTAXES } from "@dicom-pipes/dimse/dicom";
import { startDevPacs, type DevPacs } from "@dicom-pipes/devpacs";
import { runBin, runMain } from "@dicom-pipes/test-support/bins";
import { main } from "../src/main.js";
import { freePort } from "@dicom-pipes/test-support/peers";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
};
let dir: string;
let pacs: DevPacs;

before(async () => {
  dir = await promisify(mkdtemp)(join(tmpdir(), "echoscu-ts-"));
  pacs = await startDevPacs({ dir });
});
after(async () => {
  await pacs?.close();
  await promisify(rm)(dir, { recursive: true, force: true });
});

const lines = (s: string) =>
  s
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** An SCP that answers every C-ECHO with `status`, or rejects every association. */
async function scp(o: { status?: number; reject?: boolean }): Promise<DicomServer> {
  return serve({
    port: 0,
    host: "127.0.0.1",
    decide(rq) {
      if (o.reject) return { reject: { result: 1, source: 1, reason: 3 } };
      return {
        contexts: negotiateContexts(rq.contexts, (as) =>
          as === SopClass.Verification ? UNCOMPRESSED_SYNTAXES : undefined,
        ),
      };
    },
    established(assoc) {
      assoc.handleRequests((msg) => {
        if (msg.command.commandField !== CommandField.CEchoRQ) return;
        void assoc.sendMessage(msg.pcid, {
          commandField: CommandField.CEchoRSP,
          messageIdBeingRespondedTo: msg.command.messageId,
          affectedSopClassUid: SopClass.Verification,
          status: o.status ?? 0,
          hasDataset: false,
        });
      });
    },
  });
}

test("--help, --version and an unknown option", async () => {
  let r = await runBin("echoscu-ts", ["--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^echoscu-ts: DICOM verification \(C-ECHO\) SCU/);
  for (const flag of [
    "-aet",
    "-aec",
    "-pts",
    "-ppc",
    "--repeat",
    "--abort",
    "--no-output",
    "Exit status",
  ])
    assert.ok(r.stdout.includes(flag), flag);
  r = await runBin("echoscu-ts", ["--version"]);
  assert.ok(r.stdout.startsWith(`echoscu-ts ${pkg.version} (dicom-pipes; `), r.stdout);
  r = await runBin("echoscu-ts", ["+tls", "key", "cert", "127.0.0.1", "104"]);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    "E: echoscu-ts: DCMTK echoscu's option +tls (--enable-tls) is not implemented in echoscu-ts\nTry 'echoscu-ts --help' for more information.\n",
  );
  r = await runBin("echoscu-ts", ["--nope", "127.0.0.1", "104"]);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    "E: echoscu-ts: Unknown option --nope\nTry 'echoscu-ts --help' for more information.\n",
  );
  r = await runBin("echoscu-ts", ["127.0.0.1", "104", "extra"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Too many parameters: extra/);
});

test("--repeat 3: three echoes on one association, one record each, DCMTK's -v lines", async () => {
  const r = await runMain(main, [
    "-v",
    "-aec",
    "DEVPACS",
    "--repeat",
    "3",
    "127.0.0.1",
    String(pacs.port),
  ]);
  assert.equal(r.code, 0, r.stderr);
  const recs = lines(r.stdout);
  assert.equal(recs.length, 3);
  for (const rec of recs) {
    assert.equal(rec.peer, `127.0.0.1:${pacs.port}`);
    assert.equal(rec.status, "Success");
    assert.equal(rec.statusCode, "0x0000");
    assert.equal(typeof rec.ms, "number");
  }
  assert.equal(r.stderr.match(/^I: echoscu-ts: Requesting Association$/gm)?.length, 1);
  for (const id of [1, 2, 3])
    assert.match(
      r.stderr,
      new RegExp(
        `^I: echoscu-ts: Sending Echo Request \\(MsgID ${id}\\)\\nI: echoscu-ts: Received Echo Response \\(Success\\)$`,
        "m",
      ),
    );
  assert.match(r.stderr, /Releasing Association\n$/);
});

test("quiet by default, and --no-output writes nothing on stdout (as DCMTK echoscu)", async () => {
  const r = await runMain(main, ["--no-output", "-aec", "DEVPACS", "127.0.0.1", String(pacs.port)]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr, "");
});

test("a refused port exits 61 with DCMTK's condition text and a Failure record", async () => {
  const port = await freePort();
  const r = await runMain(main, ["127.0.0.1", String(port)]);
  assert.equal(r.code, 61);
  assert.equal(
    r.stderr,
    "E: echoscu-ts: Association Request Failed: 0006:031c TCP Initialization Error: Connection refused\n",
  );
  const [rec] = lines(r.stdout);
  assert.equal(rec?.status, "Failure");
  assert.match(String(rec?.error), /Connection refused/);
});

test("a rejected association exits 61 and names the reason", async () => {
  const s = await scp({ reject: true });
  try {
    const r = await runMain(main, ["127.0.0.1", String(s.port)]);
    assert.equal(r.code, 61);
    assert.match(r.stderr, /^E: echoscu-ts: Association Rejected:$/m);
    assert.match(r.stderr, /Reason: Calling AE Title Not Recognized/);
  } finally {
    await s.close(500);
  }
});

test("an echo answered with a failure status exits 1 with the status in the record", async () => {
  const s = await scp({ status: 0x0110 });
  try {
    const r = await runMain(main, ["-v", "127.0.0.1", String(s.port)]);
    assert.equal(r.code, 1);
    const [rec] = lines(r.stdout);
    assert.equal(rec?.status, "Failure");
    assert.equal(rec?.statusCode, "0x0110");
    assert.match(r.stderr, /Received Echo Response \(Failed: ProcessingFailure\)/);
  } finally {
    await s.close(500);
  }
});
