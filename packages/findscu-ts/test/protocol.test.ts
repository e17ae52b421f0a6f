/**
 * findscu-ts against a scripted SCP: statuses and failures that real
 * archives produce but not on demand. Spawns the real bin.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { numberElement, TransferSyntax } from "@dicom-pipes/dimse/dicom";
import { runBin, runShell, shellWord, ndjson, runMain } from "@dicom-pipes/test-support/bins";
import { main } from "../src/main.js";
import { freePort, hasDcmtk, runDcmtk } from "@dicom-pipes/test-support/peers";
import { datasetBytes } from "@dicom-pipes/test-support/files";
import { scriptedScp, study } from "./scripted.js";

const Q = ["-S", "-aec", "SCP", "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID", "-sr"];

test("0xFF01 pending responses are kept, not treated as final", async () => {
  const scp = await scriptedScp({
    async onFind(c) {
      await c.pending(study("1.1"), 0xff01);
      await c.pending(study("1.2"), 0xff01);
      await c.pending(study("1.3"), 0xff00);
      await c.final(0x0000);
    },
  });
  try {
    const r = await runMain(main, [...Q, "127.0.0.1", String(scp.port)]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      ndjson(r.stdout).map((x) => x.StudyInstanceUID),
      ["1.1", "1.2", "1.3"],
    );
    assert.equal(scp.releases, 1, "released the association once");
  } finally {
    await scp.close();
  }
});

test("stopping early (--cancel 2) sends C-CANCEL and drains to the final response", async () => {
  const scp = await scriptedScp({
    async onFind(c) {
      for (let i = 1; i <= 50; i++) {
        if (c.cancelled()) break;
        await c.pending(study(`1.${i}`));
        await new Promise((r) => setTimeout(r, 5));
      }
      await c.final(c.cancelled() ? 0xfe00 : 0x0000);
    },
  });
  try {
    const r = await runMain(main, [...Q, "--cancel", "2", "127.0.0.1", String(scp.port)]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(ndjson(r.stdout).length, 2);
    assert.equal(scp.cancels.length, 1, "one C-CANCEL-RQ");
    assert.equal(scp.releases, 1);
  } finally {
    await scp.close();
  }
});

test("--cancel: a C-CANCEL is logged exactly when one is sent (none once the final response is in)", async () => {
  const scp = await scriptedScp({
    async onFind(c) {
      // Back to back: the responses arrive together, the final one with them.
      for (let i = 1; i <= 5; i++) void c.pending(study(`1.${i}`));
      await c.final(0x0000);
    },
  });
  try {
    const r = await runMain(main, [...Q, "-v", "--cancel", "2", "127.0.0.1", String(scp.port)]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(ndjson(r.stdout).length, 2);
    assert.equal(/Sending Cancel Request/.test(r.stderr), scp.cancels.length === 1, r.stderr);
    assert.equal(scp.releases, 1);
  } finally {
    await scp.close();
  }
});

test("a closed pipe (| head -1) cancels the query and exits 0 quietly", async () => {
  const scp = await scriptedScp({
    async onFind(c) {
      for (let i = 1; i <= 20000; i++) {
        if (c.cancelled()) break;
        await c.pending(study(`1.2.3.${i}`));
      }
      await c.final(c.cancelled() ? 0xfe00 : 0x0000);
    },
  });
  try {
    const sh = await runShell(
      `${shellWord("findscu-ts")} ${Q.join(" ")} 127.0.0.1 ${scp.port} | head -1; echo "status=\${PIPESTATUS:-}"`,
    );
    const lines = sh.stdout.trim().split("\n");
    assert.match(lines[0]!, /"StudyInstanceUID":"1\.2\.3\.1"/);
    assert.equal(sh.stderr, "", "nothing on stderr");
    assert.equal(scp.cancels.length, 1, "the query was cancelled");
  } finally {
    await scp.close();
  }
});

test("a failure status exits 1 (DCMTK findscu exits 0) and says why", async () => {
  const scp = await scriptedScp({
    async onFind(c) {
      await c.final(0xc001, "Unable to process");
    },
  });
  try {
    const r = await runMain(main, [...Q, "127.0.0.1", String(scp.port)]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /E: findscu-ts: Find Failed \(Failed: UnableToProcess, 0xC001: Unable to process\)/,
    );
  } finally {
    await scp.close();
  }
});

test("association rejected: exit 61 and DCMTK's rejection lines", async () => {
  const scp = await scriptedScp({ reject: [1, 1, 7] });
  try {
    const r = await runBin("findscu-ts", [...Q, "127.0.0.1", String(scp.port)]);
    assert.equal(r.code, 61);
    assert.match(r.stderr, /E: findscu-ts: Association Rejected:\n/);
    assert.match(r.stderr, /Result: Rejected Permanent, Source: Service User/);
    assert.match(r.stderr, /Reason: Called AE Title Not Recognized/);
  } finally {
    await scp.close();
  }
});

test("-x=, -xe, -xb, -xd, -xi: the transfer syntaxes proposed are DCMTK findscu's", async () => {
  const scp = await scriptedScp({ onFind: (c) => c.final(0x0000) });
  try {
    const ours: Record<string, string[] | undefined> = {};
    for (const opt of ["", "-x=", "-xe", "-xb", "-xd", "-xi"]) {
      const r = await runMain(main, [...Q, ...(opt ? [opt] : []), "127.0.0.1", String(scp.port)]);
      assert.equal(r.code, 0, `${opt}: ${r.stderr}`);
      ours[opt] = scp.proposals.at(-1);
      if (hasDcmtk()) {
        const d = await runDcmtk("findscu", [
          ...Q,
          ...(opt ? [opt] : []),
          "127.0.0.1",
          String(scp.port),
        ]);
        assert.equal(d.code, 0, d.stderr);
        assert.deepEqual(ours[opt], scp.proposals.at(-1), `${opt || "default"}: as DCMTK findscu`);
      }
    }
    // findscu(1): -xi "propose implicit VR little endian TS only".
    assert.deepEqual(ours["-xi"], ["1.2.840.10008.1.2"]);
    assert.notDeepEqual(ours["-xb"], ours[""]);
  } finally {
    await scp.close();
  }
});

test("-X of a big endian response writes its binary values little endian, as the file's syntax says", async () => {
  const scp = await scriptedScp({
    syntaxes: [TransferSyntax.ExplicitVRBigEndian],
    async onFind(c) {
      const match = study("1.1");
      match.set(numberElement(0x00280010, "US", 512));
      await c.pending(match);
      await c.final(0x0000);
    },
  });
  const od = await mkdtemp(join(tmpdir(), "findscu-be-"));
  try {
    const r = await runMain(main, [...Q, "-xb", "-X", "-od", od, "127.0.0.1", String(scp.port)]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(scp.proposals.at(-1)?.[0], TransferSyntax.ExplicitVRBigEndian);
    // PS3.5 7.1.2: (0028,0010) US, length 2, value 512 in explicit VR little endian.
    const rows = Buffer.from([0x28, 0x00, 0x10, 0x00, 0x55, 0x53, 0x02, 0x00, 0x00, 0x02]);
    assert.ok(datasetBytes(join(od, "rsp0001.dcm")).includes(rows), "Rows = 512 little endian");
  } finally {
    await scp.close();
    await rm(od, { recursive: true, force: true });
  }
});

test("no acceptable presentation context: exit 61", async () => {
  const scp = await scriptedScp({ acceptFind: false });
  try {
    const r = await runMain(main, [...Q, "127.0.0.1", String(scp.port)]);
    assert.equal(r.code, 61);
    assert.match(r.stderr, /No Acceptable Presentation Contexts/);
  } finally {
    await scp.close();
  }
});

test("connection refused: exit 61 with DCMTK's condition text", async () => {
  const port = await freePort();
  const r = await runMain(main, [...Q, "127.0.0.1", String(port)]);
  assert.equal(r.code, 61);
  assert.match(
    r.stderr,
    /E: findscu-ts: Association Request Failed: 0006:031c TCP Initialization Error: Connection refused/,
  );
});

// The peer never answers: only the timeout ends the run (the test's own timeout catches a hang).
test("a silent peer trips the DIMSE timeout (-td): exit 1, 0006:0207", {
  timeout: 60_000,
}, async () => {
  const scp = await scriptedScp({ onFind: () => undefined });
  try {
    const r = await runMain(main, [...Q, "-td", "1", "127.0.0.1", String(scp.port)]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /0006:0207 DIMSE No data available/);
  } finally {
    await scp.close();
  }
});

test("the peer aborting mid-query is an error, not a silent truncation", async () => {
  const scp = await scriptedScp({
    async onFind(c) {
      await c.pending(study("1.1"));
      c.assoc.abort();
    },
  });
  try {
    const r = await runMain(main, [...Q, "127.0.0.1", String(scp.port)]);
    assert.equal(r.code, 1);
    assert.equal(ndjson(r.stdout).length, 1);
    assert.match(r.stderr, /Find SCU Failed: 0006:0317 Peer aborted Association/);
  } finally {
    await scp.close();
  }
});

test("the peer closing the socket without a final response is an error", async () => {
  const scp = await scriptedScp({
    async onFind(c) {
      await c.pending(study("1.1"));
      c.assoc.socket.destroy();
    },
  });
  try {
    const r = await runMain(main, [...Q, "127.0.0.1", String(scp.port)]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Find SCU Failed: 0006:0317/);
  } finally {
    await scp.close();
  }
});

test("--split-dates splits on a failure status that reports a cap, and deduplicates", async () => {
  // A peer refusing queries spanning more than 4 days; one study per day, 2024-01-01..16.
  const days = Array.from({ length: 16 }, (_, i) => `202401${String(i + 1).padStart(2, "0")}`);
  const scp = await scriptedScp({
    async onFind(c) {
      const range = c.identifier.string(0x00080020) ?? "";
      const [a, b] = range.includes("-") ? range.split("-") : [range, range];
      const hits = days.filter((d) => d >= a! && d <= b!);
      if (hits.length > 4) return c.final(0xa700, "Too many matches");
      for (const d of hits) await c.pending(study(`9.${d}`, { StudyDate: d }));
      // A duplicate across a boundary must be output once.
      if (hits.includes("20240108"))
        await c.pending(study("9.20240108", { StudyDate: "20240108" }));
      await c.final(0);
    },
  });
  try {
    const r = await runMain(main, [
      ...Q,
      "-k",
      "StudyDate=20240101-20240116",
      "--split-dates",
      "127.0.0.1",
      String(scp.port),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const uids = ndjson(r.stdout)
      .map((x) => x.StudyInstanceUID as string)
      .sort();
    assert.deepEqual(
      uids,
      days.map((d) => `9.${d}`),
    );
  } finally {
    await scp.close();
  }
});
