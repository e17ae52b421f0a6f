/**
 * --retries/--retry-wait of the network SCUs, against a scripted SCP on
 * loopback that rejects associations (transient or permanent), resets
 * connections, or answers requests with a chosen sequence of statuses.
 * The real executables are spawned. Waits are short (--retry-wait 0.05);
 * timing is checked only as lower bounds.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateArchive } from "@dicom-pipes/gen-archive";
import {
  Dataset,
  encodeDataset,
  SopClass,
  Tags,
  UNCOMPRESSED_SYNTAXES,
} from "@dicom-pipes/dimse/dicom";
import { CommandField, negotiateContexts, serve, type DicomServer } from "@dicom-pipes/dimse/net";
import { ndjson, runBin, startBin } from "@dicom-pipes/test-support/bins";

const HOST = "127.0.0.1";
const FIND_OR_MOVE = new Set<string>([
  SopClass.StudyRootFind,
  SopClass.PatientRootFind,
  SopClass.StudyRootMove,
  SopClass.PatientRootMove,
]);

interface Flaky {
  server: DicomServer;
  port: number;
  /** Associations asked for (accepted or rejected). */
  asked: number;
  /** Requests received (C-STORE, C-FIND, C-MOVE). */
  requests: number;
  /** Time of each association request (ms). */
  times: number[];
  close(): Promise<void>;
}

/**
 * Rejects the first `reject` associations with `result` (2 transient, 1
 * permanent), then answers the n-th request with `statuses[n]` (0 once the
 * list is spent; -1 aborts the association instead); a C-FIND's success is
 * preceded by one match.
 */
async function flakyScp(o: {
  reject?: number;
  result?: number;
  statuses?: number[];
}): Promise<Flaky> {
  const f = { asked: 0, requests: 0, times: [] as number[] } as Flaky;
  f.server = await serve({
    port: 0,
    host: HOST,
    decide: (rq) => {
      f.asked++;
      f.times.push(Date.now());
      if (f.asked <= (o.reject ?? 0))
        return { reject: { result: o.result ?? 2, source: 1, reason: 1 } };
      return {
        contexts: negotiateContexts(rq.contexts, (as, offered) =>
          FIND_OR_MOVE.has(as) ? UNCOMPRESSED_SYNTAXES : offered,
        ),
      };
    },
    established(assoc) {
      assoc.handleRequests((msg) => {
        const cmd = msg.command;
        const status = o.statuses?.[f.requests] ?? 0;
        f.requests++;
        if (status === -1) return assoc.abort();
        const reply = (commandField: number, extra: Record<string, unknown> = {}, ds?: Buffer) =>
          assoc
            .sendMessage(
              msg.pcid,
              {
                commandField,
                messageIdBeingRespondedTo: cmd.messageId,
                affectedSopClassUid: cmd.affectedSopClassUid,
                status: 0,
                hasDataset: ds !== undefined,
                ...extra,
              },
              ds,
            )
            .catch(() => undefined);
        if (cmd.commandField === CommandField.CStoreRQ)
          void reply(CommandField.CStoreRSP, {
            status,
            affectedSopInstanceUid: cmd.affectedSopInstanceUid,
          });
        else if (cmd.commandField === CommandField.CEchoRQ)
          void reply(CommandField.CEchoRSP, { status });
        else if (cmd.commandField === CommandField.CMoveRQ)
          void reply(CommandField.CMoveRSP, {
            status,
            completed: 0,
            failed: 0,
            warning: 0,
            remaining: 0,
          });
        else if (cmd.commandField === CommandField.CFindRQ) {
          void (async () => {
            if (status === 0) {
              const ds = new Dataset();
              ds.setString(Tags.QueryRetrieveLevel, "CS", "STUDY");
              ds.setString(Tags.StudyInstanceUID, "UI", "1.2.3.4");
              await reply(
                CommandField.CFindRSP,
                { status: 0xff00 },
                encodeDataset(ds, msg.context.transferSyntax),
              );
            }
            await reply(CommandField.CFindRSP, { status });
          })();
        }
      });
    },
  });
  f.port = f.server.port;
  f.close = () => f.server.close(200);
  return f;
}

/** A TCP listener that resets the first `resets` connections, then forwards nothing (closed afterwards). */
async function resettingListener(): Promise<{ server: Server; port: number; connections: number }> {
  const r = { connections: 0 } as { server: Server; port: number; connections: number };
  r.server = createServer((sock) => {
    r.connections++;
    sock.resetAndDestroy();
  });
  await new Promise<void>((ok) => r.server.listen(0, HOST, ok));
  r.port = (r.server.address() as { port: number }).port;
  return r;
}

const warnings = (stderr: string) =>
  stderr.split("\n").filter((l) => /retry \d+ of \d+ in [\d.]+ s$/.test(l));

let work: string;
let file: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), "retries-"));
  const files: string[] = [];
  const out = join(work, "src");
  await generateArchive({
    out,
    patients: 1,
    seed: "retries",
    studiesPerPatient: 1,
    seriesPerStudy: [1, 1],
    instancesPerSeries: 1,
    rows: 8,
    layout: "flat",
    onInstance: (_n, i) => files.push(join(out, ...i.relPath.split("/"))),
  });
  file = files[0]!;
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("storescu-ts --retries", () => {
  test("two transient rejections, then accepted: stored with attempts 3, each retry logged, waits growing", async () => {
    const scp = await flakyScp({ reject: 2 });
    try {
      const r = await runBin("storescu-ts", [
        "--retries",
        "3",
        "--retry-wait",
        "0.1",
        HOST,
        String(scp.port),
        file,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const [rec] = ndjson(r.stdout);
      assert.equal(rec?.status, "Success");
      assert.equal(rec?.attempts, 3);
      const w = warnings(r.stderr);
      assert.equal(w.length, 2, r.stderr);
      assert.match(
        w[0]!,
        /^W: storescu-ts: association failed \(Association Rejected:\); retry 1 of 3 in 0\.[01]\d* s$/,
      );
      assert.match(w[1]!, /retry 2 of 3 in 0\.[12]\d* s$/);
      assert.equal(scp.asked, 3);
      // Back-off: ≥ 80 % of 0.1 s, then ≥ 80 % of 0.2 s (lower bounds only).
      assert.ok(
        scp.times[1]! - scp.times[0]! >= 75,
        `first wait ${scp.times[1]! - scp.times[0]!} ms`,
      );
      assert.ok(
        scp.times[2]! - scp.times[1]! >= 155,
        `second wait ${scp.times[2]! - scp.times[1]!} ms`,
      );
    } finally {
      await scp.close();
    }
  });

  test("a permanent rejection is not retried", async () => {
    const scp = await flakyScp({ reject: 1, result: 1 });
    try {
      const r = await runBin("storescu-ts", [
        "--retries",
        "3",
        "--retry-wait",
        "0.05",
        HOST,
        String(scp.port),
        file,
      ]);
      assert.notEqual(r.code, 0);
      assert.equal(scp.asked, 1);
      assert.equal(warnings(r.stderr).length, 0, r.stderr);
      assert.match(r.stderr, /Association Rejected/);
    } finally {
      await scp.close();
    }
  });

  test("0xA700 (out of resources), then success: sent again on the same association, attempts 2", async () => {
    const scp = await flakyScp({ statuses: [0xa700] });
    try {
      const r = await runBin("storescu-ts", [
        "--retries",
        "2",
        "--retry-wait",
        "0.05",
        HOST,
        String(scp.port),
        file,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const [rec] = ndjson(r.stdout);
      assert.equal(rec?.status, "Success");
      assert.equal(rec?.attempts, 2);
      assert.equal(scp.requests, 2);
      assert.equal(scp.asked, 1);
      assert.match(warnings(r.stderr)[0]!, /C-STORE failed \(.*0xa700\)\); retry 1 of 2/i);
    } finally {
      await scp.close();
    }
  });

  test("0xA700 every time: fails once the retries are spent (exit 167 as DCMTK), attempts counted", async () => {
    const scp = await flakyScp({ statuses: [0xa700, 0xa700, 0xa700] });
    try {
      const r = await runBin("storescu-ts", [
        "--retries",
        "2",
        "--retry-wait",
        "0.05",
        HOST,
        String(scp.port),
        file,
      ]);
      assert.equal(r.code, 0xa7, r.stderr);
      const [rec] = ndjson(r.stdout);
      assert.equal(rec?.status, "Failure");
      assert.equal(rec?.attempts, 3);
      assert.equal(scp.requests, 3);
    } finally {
      await scp.close();
    }
  });

  test("without --retries: no retry and no attempts field", async () => {
    const scp = await flakyScp({ reject: 1 });
    try {
      const r = await runBin("storescu-ts", [HOST, String(scp.port), file]);
      assert.notEqual(r.code, 0);
      assert.equal(scp.asked, 1);
      const scp2 = await flakyScp({});
      try {
        const ok = await runBin("storescu-ts", [HOST, String(scp2.port), file]);
        assert.equal(ok.code, 0, ok.stderr);
        assert.equal(ndjson(ok.stdout)[0]?.attempts, undefined);
      } finally {
        await scp2.close();
      }
    } finally {
      await scp.close();
    }
  });
});

describe("movescu-ts --retries", () => {
  test("transient rejection, then 0xA700, then success: one result with attempts 3", async () => {
    const scp = await flakyScp({ reject: 1, statuses: [0xa700] });
    try {
      const r = await runBin("movescu-ts", [
        "-S",
        "--retries",
        "4",
        "--retry-wait",
        "0.05",
        "-aem",
        "DEST",
        "-k",
        "StudyInstanceUID=1.2.3",
        HOST,
        String(scp.port),
      ]);
      assert.equal(r.code, 0, r.stderr);
      const recs = ndjson(r.stdout);
      assert.equal(recs.length, 1);
      assert.equal(recs[0]?.status, "Success");
      assert.equal(recs[0]?.attempts, 3);
      assert.equal(scp.requests, 2);
      const w = warnings(r.stderr);
      assert.match(
        w[0]!,
        /^W: movescu-ts: association failed \(Association Rejected:\); retry 1 of 4/,
      );
      assert.match(w[1]!, /C-MOVE failed \(.*0xa700\)\); retry 2 of 4/i);
    } finally {
      await scp.close();
    }
  });

  test("0xA801 (move destination unknown) is not retried", async () => {
    const scp = await flakyScp({ statuses: [0xa801] });
    try {
      const r = await runBin("movescu-ts", [
        "-S",
        "--retries",
        "3",
        "--retry-wait",
        "0.05",
        "-aem",
        "NOWHERE",
        "-k",
        "StudyInstanceUID=1.2.3",
        HOST,
        String(scp.port),
      ]);
      assert.notEqual(r.code, 0);
      assert.equal(scp.requests, 1);
      assert.equal(warnings(r.stderr).length, 0, r.stderr);
      const [rec] = ndjson(r.stdout);
      assert.equal(rec?.status, "Failure");
      assert.equal(rec?.statusCode, "0xA801");
      assert.equal(rec?.attempts, 1);
    } finally {
      await scp.close();
    }
  });

  test("connections reset before the association: retried, then fails with attempts N+1", async () => {
    const l = await resettingListener();
    try {
      const r = await runBin("movescu-ts", [
        "-S",
        "--retries",
        "2",
        "--retry-wait",
        "0.05",
        "-aem",
        "DEST",
        "-k",
        "StudyInstanceUID=1.2.3",
        HOST,
        String(l.port),
      ]);
      assert.notEqual(r.code, 0);
      assert.equal(l.connections, 3, r.stderr);
      assert.equal(warnings(r.stderr).length, 2, r.stderr);
      assert.equal(ndjson(r.stdout)[0]?.attempts, 3);
    } finally {
      await new Promise((ok) => l.server.close(ok));
    }
  });
});

test("movescu-ts: an A-ABORT before any response asks the request again on a new association", async () => {
  const scp = await flakyScp({ statuses: [-1] });
  try {
    const r = await runBin("movescu-ts", [
      "-S",
      "--retries",
      "1",
      "--retry-wait",
      "0.05",
      "-aem",
      "DEST",
      "-k",
      "StudyInstanceUID=1.2.3",
      HOST,
      String(scp.port),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const recs = ndjson(r.stdout);
    assert.deepEqual(
      recs.map((x) => [x.status, x.attempts]),
      [["Success", 2]],
    );
    assert.equal(scp.asked, 2);
    assert.equal(scp.requests, 2);
  } finally {
    await scp.close();
  }
});

describe("findscu-ts --retries", () => {
  test("0xC001 before any match is retried; the match is written once", async () => {
    const scp = await flakyScp({ statuses: [0xc001] });
    try {
      const r = await runBin("findscu-ts", [
        "-S",
        "--retries",
        "2",
        "--retry-wait",
        "0.05",
        "-k",
        "QueryRetrieveLevel=STUDY",
        "-k",
        "StudyInstanceUID",
        HOST,
        String(scp.port),
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(
        ndjson(r.stdout).map((x) => x.StudyInstanceUID),
        ["1.2.3.4"],
      );
      assert.equal(scp.requests, 2);
      assert.match(warnings(r.stderr)[0]!, /C-FIND failed \(.*0xc001\)\); retry 1 of 2/i);
    } finally {
      await scp.close();
    }
  });

  test("0xC002 (another unable-to-process code) is not retried", async () => {
    const scp = await flakyScp({ statuses: [0xc002] });
    try {
      const r = await runBin("findscu-ts", [
        "-S",
        "--retries",
        "2",
        "--retry-wait",
        "0.05",
        "-k",
        "QueryRetrieveLevel=STUDY",
        "-k",
        "StudyInstanceUID",
        HOST,
        String(scp.port),
      ]);
      assert.notEqual(r.code, 0);
      assert.equal(scp.requests, 1);
      assert.equal(warnings(r.stderr).length, 0, r.stderr);
    } finally {
      await scp.close();
    }
  });

  test("SIGTERM during a back-off wait ends the run at once", async () => {
    const l = await resettingListener();
    try {
      const p = startBin("findscu-ts", [
        "-S",
        "--retries",
        "5",
        "--retry-wait",
        "120",
        "-k",
        "QueryRetrieveLevel=STUDY",
        HOST,
        String(l.port),
      ]);
      const deadline = Date.now() + 20000;
      while (!/retry 1 of 5/.test(p.err()) && Date.now() < deadline)
        await new Promise((ok) => setTimeout(ok, 20));
      assert.match(p.err(), /retry 1 of 5 in \d/);
      const t0 = Date.now();
      p.child.kill("SIGTERM");
      const r = await p.done;
      assert.ok(Date.now() - t0 < 20000, "not waiting out the 120 s back-off");
      assert.notEqual(r.code, 0);
      assert.equal(l.connections, 1);
    } finally {
      await new Promise((ok) => l.server.close(ok));
    }
  });
});

describe("echoscu-ts --retries", () => {
  test("one transient rejection, then accepted: the echo record says attempts 2", async () => {
    const scp = await flakyScp({ reject: 1 });
    try {
      const r = await runBin("echoscu-ts", [
        "--retries",
        "1",
        "--retry-wait",
        "0.05",
        HOST,
        String(scp.port),
      ]);
      assert.equal(r.code, 0, r.stderr);
      const [rec] = ndjson(r.stdout);
      assert.equal(rec?.status, "Success");
      assert.equal(rec?.attempts, 2);
      assert.equal(scp.asked, 2);
    } finally {
      await scp.close();
    }
  });

  test("retries spent: the failure record counts every attempt", async () => {
    const scp = await flakyScp({ reject: 5 });
    try {
      const r = await runBin("echoscu-ts", [
        "--retries",
        "2",
        "--retry-wait",
        "0.05",
        HOST,
        String(scp.port),
      ]);
      assert.notEqual(r.code, 0);
      const [rec] = ndjson(r.stdout);
      assert.equal(rec?.status, "Failure");
      assert.equal(rec?.attempts, 3);
      assert.equal(scp.asked, 3);
    } finally {
      await scp.close();
    }
  });
});
