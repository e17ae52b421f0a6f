/**
 * echoscu-ts against DCMTK echoscu, side by side: the same association
 * request for -pts/-ppc, the same log lines, the same rejection text, and
 * echoes answered by dcmqrscp and Orthanc.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { decodeAssociateRQ, encodeAssociateRJ, type AssociateRQ } from "@dicom-pipes/dimse/net";
import {
  hasDcmtk,
  hasOrthanc,
  runDcmtk,
  startDcmqrscp,
  startOrthanc,
  type DcmqrscpPeer,
  type OrthancPeer,
} from "@dicom-pipes/test-support/peers";
import { runBin } from "@dicom-pipes/test-support/bins";

const skip =
  !hasDcmtk() || !hasOrthanc()
    ? "DCMTK and Orthanc are required (apt-get install dcmtk orthanc)"
    : false;

/**
 * A listener that records the A-ASSOCIATE-RQ of each connection and answers
 * with an A-ASSOCIATE-RJ (result, source, reason).
 */
async function rejector(
  result: number,
  source: number,
  reason: number,
): Promise<{ port: number; requests: AssociateRQ[]; close(): Promise<void> }> {
  const requests: AssociateRQ[] = [];
  const server: Server = createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on("error", () => undefined);
    sock.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 6 || buf.length < 6 + buf.readUInt32BE(2)) return;
      requests.push(decodeAssociateRQ(buf.subarray(6, 6 + buf.readUInt32BE(2))));
      sock.end(encodeAssociateRJ({ result, source, reason }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return { port, requests, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe("echoscu-ts vs DCMTK echoscu", { skip }, () => {
  let qr: DcmqrscpPeer;
  let orthanc: OrthancPeer;
  before(async () => {
    [qr, orthanc] = await Promise.all([startDcmqrscp({ files: [] }), startOrthanc({ files: [] })]);
  });
  after(async () => {
    await qr?.stop();
    await orthanc?.stop();
  });

  test("-pts and -ppc propose the same contexts and transfer syntaxes, in the same order", async () => {
    const l = await rejector(1, 1, 1);
    try {
      for (const [pts, ppc] of [
        ["1", "1"],
        ["3", "2"],
        ["38", "5"],
      ] as const) {
        l.requests.length = 0;
        await runDcmtk("echoscu", ["-pts", pts, "-ppc", ppc, "127.0.0.1", String(l.port)]);
        await runBin("echoscu-ts", ["-pts", pts, "-ppc", ppc, "127.0.0.1", String(l.port)]);
        assert.equal(l.requests.length, 2);
        const [theirs, ours] = l.requests.map((rq) =>
          rq.contexts.map((c) => [c.id, c.abstractSyntax, c.transferSyntaxes]),
        );
        assert.deepEqual(ours, theirs, `-pts ${pts} -ppc ${ppc}`);
        assert.deepEqual(
          [l.requests[1]!.callingAet, l.requests[1]!.calledAet],
          [l.requests[0]!.callingAet, l.requests[0]!.calledAet],
        );
      }
    } finally {
      await l.close();
    }
  });

  test("a rejection is reported with DCMTK's lines (E: and the tool name instead of F:), exit 61 instead of 1", async () => {
    const l = await rejector(2, 3, 2);
    try {
      const theirs = await runDcmtk("echoscu", ["127.0.0.1", String(l.port)]);
      const ours = await runBin("echoscu-ts", ["--no-output", "127.0.0.1", String(l.port)]);
      assert.equal(theirs.code, 1);
      assert.equal(ours.code, 61);
      const dcmtk = theirs.stderr.replace(/^F: /gm, "");
      assert.equal(ours.stderr.replace(/^E: echoscu-ts: /gm, ""), dcmtk);
      assert.match(
        dcmtk,
        /^Association Rejected:\nResult: Rejected Transient, Source: Service Provider \(Presentation Related\)\nReason: Local Limit Exceeded\n$/,
      );
    } finally {
      await l.close();
    }
  });

  for (const peer of ["dcmqrscp", "Orthanc"]) {
    test(`echoes ${peer}: same -v lines as DCMTK echoscu, one record per echo`, async () => {
      const port = peer === "dcmqrscp" ? qr.port : orthanc.port;
      const aet = peer === "dcmqrscp" ? qr.aet : orthanc.aet;
      const args = ["-v", "-aec", aet, "--repeat", "2", "127.0.0.1", String(port)];
      const theirs = await runDcmtk("echoscu", args);
      const ours = await runBin("echoscu-ts", args);
      assert.equal(theirs.code, 0, theirs.stderr);
      assert.equal(ours.code, 0, ours.stderr);
      const norm = (s: string) => s.replace(/Max Send PDV: \d+/, "Max Send PDV: N");
      assert.equal(norm(ours.stderr.replace(/^I: echoscu-ts: /gm, "I: ")), norm(theirs.stderr));
      const recs = ours.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { status: string; aec: string });
      assert.deepEqual(
        recs.map((r) => [r.status, r.aec]),
        [
          ["Success", aet],
          ["Success", aet],
        ],
      );
    });
  }
});
