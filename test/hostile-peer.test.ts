/**
 * storescp-ts attacked as a hostile peer would (the same acceptor code
 * serves devpacs and the movescu-ts +P listener): malformed and mutated
 * PDUs, garbage connections, endless messages, idle and released
 * associations, hostile UIDs and AE titles. Every case ends with the
 * server still answering a C-ECHO. Loopback only; bounded in count and
 * time. Expected behaviour is PS3.8's (state machine, A-ASSOCIATE-RJ
 * reasons) and DCMTK storescp's (0xA900 for a data set that is not the
 * announced instance).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, relative, resolve, sep } from "node:path";
import { CommandField, decodeCommand, encodeCommand, NetError } from "@dicom-pipes/dimse/net";
import { startStorescpTs, type ScpTs } from "@dicom-pipes/test-support/corpus";
import { filesUnder } from "@dicom-pipes/test-support/files";
import { freePort, hasDcmtk, runDcmtk } from "@dicom-pipes/test-support/peers";
import { isListening } from "@dicom-pipes/test-support/corpus";
import { spawn } from "node:child_process";
import { binPath, runBin, until } from "@dicom-pipes/test-support/bins";
import { startDevPacs } from "@dicom-pipes/devpacs";
import {
  associate,
  associateRq,
  echoCommand,
  echoWorks,
  endlessEcho,
  FLOOD_LIMIT,
  instance,
  pdata,
  pdu,
  procStats,
  rawAssociation,
  rawPeer,
  store,
} from "@dicom-pipes/test-support/hostile";
import { mulberry32 as prng } from "@dicom-pipes/gen-archive";

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), "hostile-peer-"));
});
after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

async function scp(args: string[]): Promise<ScpTs> {
  const od = await mkdtemp(join(work, "od-"));
  return startStorescpTs(args, { od });
}

/** One storescp-ts for the tests of a describe block. */
function sharedScp(args: string[]): ScpTs {
  const s = {} as ScpTs;
  before(async () => {
    Object.assign(s, await scp(args));
  });
  after(async () => {
    await s.stop();
  });
  return s;
}

/** An A-ABORT (type 7) arrived, or the connection closed, within `ms`. */
async function endedWithin(
  peer: Awaited<ReturnType<typeof rawPeer>>,
  ms: number,
): Promise<boolean> {
  return (await peer.closed(ms)) || peer.types().includes(0x07);
}

/** The endless C-ECHO flood ends with the association, before FLOOD_LIMIT. */
async function floodIsCut(port: number): Promise<void> {
  const r = await endlessEcho(port);
  assert.ok(
    r.ended && r.sent < FLOOD_LIMIT,
    `association ended: ${r.ended}, after ${r.sent} bytes`,
  );
}

describe("buffered messages are capped", () => {
  const s = sharedScp(["--max-message", "2"]);

  test("a C-ECHO announcing an endless data set: aborted near the cap, memory bounded, the server keeps serving", async () => {
    const before = procStats(s.pid);
    await floodIsCut(s.port);
    const after = procStats(s.pid);
    assert.ok(
      after.peakKiB - before.peakKiB < 64 * 1024,
      `peak RSS grew by ${after.peakKiB - before.peakKiB} KiB`,
    );
    assert.ok(await echoWorks(s.port));
    assert.match(s.stderr(), /data set of more than 2097152 bytes/);
  });

  test("a command set in endless fragments: aborted, memory bounded, the server keeps serving", async () => {
    const before = procStats(s.pid);
    const peer = await rawAssociation(s.port);
    const frag = pdata(1, true, false, Buffer.alloc(8192, 0x20));
    let sent = 0;
    // What is in flight when the abort comes is read and dropped: the count is not the cap.
    while (sent < 96 * 1024 * 1024 && (await peer.send(frag))) sent += frag.length;
    assert.ok(await endedWithin(peer, 5000), "the association is aborted");
    assert.ok(sent < 96 * 1024 * 1024, `aborted after ${sent} bytes`);
    const after = procStats(s.pid);
    assert.ok(
      after.peakKiB - before.peakKiB < 64 * 1024,
      `peak RSS grew by ${after.peakKiB - before.peakKiB} KiB`,
    );
    assert.ok(await echoWorks(s.port));
    assert.match(s.stderr(), /command set of more than 2097152 bytes/);
  });
});

test("C-STORE data sets are not capped and stream to disk: a 96 MiB instance is stored with flat memory", async () => {
  const s = await scp(["--max-message", "1"]);
  try {
    const before = procStats(s.pid);
    const a = await associate(s.port);
    const uid = "1.2.826.0.1.3680043.2.1125.9.1";
    // The instance, then (0009,1000) OB holding 96 MiB.
    const head = Buffer.concat([
      instance({ sopInstanceUid: uid }),
      Buffer.from([0x09, 0x00, 0x00, 0x10, 0x4f, 0x42, 0, 0]),
      Buffer.alloc(4),
    ]);
    const value = Buffer.alloc(96 * 1024 * 1024, 0x55);
    head.writeUInt32LE(value.length, head.length - 4);
    assert.equal(await store(a, uid, Buffer.concat([head, value])), 0);
    await a.release();
    const after = procStats(s.pid);
    assert.ok(
      after.peakKiB - before.peakKiB < 48 * 1024,
      `peak RSS grew by ${after.peakKiB - before.peakKiB} KiB`,
    );
    const files = await filesUnder(s.od);
    assert.equal(files.length, 1);
  } finally {
    await s.stop();
  }
});

describe("timeouts once associated", () => {
  test("-td: an idle association is aborted after the DIMSE timeout", async () => {
    const s = await scp(["-td", "1"]);
    try {
      const peer = await rawAssociation(s.port);
      const t0 = Date.now();
      assert.ok(await endedWithin(peer, 5000), "aborted");
      const took = Date.now() - t0;
      assert.ok(took >= 900 && took < 4000, `after ${took} ms`);
      assert.ok(peer.types().includes(0x07), "with an A-ABORT");
      assert.ok(await echoWorks(s.port));
    } finally {
      await s.stop();
    }
  });

  test("-td: a request being served longer than the timeout (a 2 s -xcr hook with -xs) is not idle", async () => {
    const s = await scp(["-td", "1", "-xcr", "sleep 2", "-xs"]);
    try {
      const a = await associate(s.port);
      const uid = "1.2.826.0.1.3680043.2.1125.8.1";
      assert.equal(await store(a, uid, instance({ sopInstanceUid: uid })), 0);
      await a.release();
      assert.doesNotMatch(s.stderr(), /No DIMSE message/);
    } finally {
      await s.stop();
    }
  });

  test("after A-RELEASE-RP the server closes the connection and answers nothing more", async () => {
    const s = await scp([]);
    try {
      const peer = await rawAssociation(s.port);
      await peer.send(pdu(0x05, Buffer.alloc(4)));
      assert.ok(await peer.waitFor(0x06, 3000), "A-RELEASE-RP");
      // A C-ECHO after the release: never answered (PS3.8 Sta13).
      await peer.send(pdata(1, true, true, echoCommand(7)));
      assert.ok(await peer.closed(3000), "connection closed by the server");
      assert.deepEqual(
        peer.types().filter((t) => t === 0x04),
        [],
        "no P-DATA (C-ECHO-RSP) after the release",
      );
    } finally {
      await s.stop();
    }
  });

  test("--max-associations: one more is rejected (transient, presentation, local limit exceeded); a freed slot is reused", async () => {
    const s = await scp(["--max-associations", "2"]);
    try {
      const a = await associate(s.port);
      const b = await associate(s.port);
      const err = await associate(s.port).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof NetError && err.kind === "rejected", String(err));
      // (The source's wording follows DCMTK's, "Presentation Related", in later versions.)
      assert.match(
        err.details.join("\n"),
        /^Result: Rejected Transient, Source: Service Provider \(Presentation Related( Function)?\)\nReason: Local Limit Exceeded$/,
      );
      if (hasDcmtk()) {
        // DCMTK's reading of the same A-ASSOCIATE-RJ.
        const r = await runDcmtk("echoscu", ["127.0.0.1", String(s.port)], { timeoutMs: 10_000 });
        assert.equal(r.code, 1);
        assert.match(
          r.stderr,
          /F: Result: Rejected Transient, Source: Service Provider \(Presentation Related\)\nF: Reason: Local Limit Exceeded/,
        );
      }
      await a.release();
      assert.ok(
        await until(async () => echoWorks(s.port).catch(() => false), 5000, 50),
        "a slot freed by a release is reused",
      );
      await b.release();
    } finally {
      await s.stop();
    }
  });
});

describe("protocol violations", () => {
  const s = sharedScp(["-ta", "2"]);

  test("C-STORE whose command names another instance than its data set: 0xA900, nothing stored", async () => {
    const a = await associate(s.port);
    const status = await store(
      a,
      "1.2.826.0.1.3680043.2.1125.7.1",
      instance({ sopInstanceUid: "1.2.826.0.1.3680043.2.1125.7.2" }),
    );
    await a.release();
    assert.equal(status, 0xa900);
    assert.deepEqual(await filesUnder(s.od), []);
  });

  test("a C-STORE arriving a few bytes at a time (PDU and PDV headers cut anywhere) is stored byte for byte", async () => {
    const uid = "1.2.826.0.1.3680043.2.1125.7.3";
    const pixels = Buffer.alloc(3000);
    for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7) & 0xff;
    const dataset = Buffer.concat([
      instance({ sopInstanceUid: uid }),
      Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0, 0]),
      Buffer.from(new Uint32Array([pixels.length]).buffer),
      pixels,
    ]);
    const command = encodeCommand({
      commandField: CommandField.CStoreRQ,
      messageId: 1,
      affectedSopClassUid: "1.2.840.10008.5.1.4.1.1.7",
      affectedSopInstanceUid: uid,
      priority: 0,
      hasDataset: true,
    });
    // The data set in two P-DATA-TFs: the first holds two PDVs, the second the last one.
    const pdv = (isLast: boolean, data: Buffer) => {
      const h = Buffer.alloc(6);
      h.writeUInt32BE(data.length + 2, 0);
      h[4] = 3;
      h[5] = isLast ? 2 : 0;
      return Buffer.concat([h, data]);
    };
    const stream = Buffer.concat([
      pdata(3, true, true, command),
      pdu(
        0x04,
        Buffer.concat([
          pdv(false, dataset.subarray(0, 101)),
          pdv(false, dataset.subarray(101, 2000)),
        ]),
      ),
      pdu(0x04, pdv(true, dataset.subarray(2000))),
    ]);
    const peer = await rawAssociation(s.port);
    peer.socket.setNoDelay(true);
    for (let o = 0, k = 0; o < stream.length; k++) {
      const n = 1 + (k % 13);
      assert.ok(await peer.send(stream.subarray(o, o + n)), "the server keeps reading");
      o += n;
      await new Promise((r) => setTimeout(r, 1));
    }
    assert.ok(await peer.waitFor(0x04, 5000), "a C-STORE-RSP");
    const rsp = peer.received();
    const at = peer.types().indexOf(0x04);
    let o = 0;
    for (let i = 0; i < at; i++) o += 6 + rsp.readUInt32BE(o + 2);
    assert.equal(decodeCommand(rsp.subarray(o + 12, o + 6 + rsp.readUInt32BE(o + 2))).status, 0);
    await peer.send(pdu(0x05, Buffer.alloc(4)));
    await peer.closed(2000);
    const file = await readFile(join(s.od, `SC.${uid}`));
    assert.deepEqual(file.subarray(file.length - dataset.length), dataset);
  });

  // Before association (PS3.8 Sta2) and after (Sta6): each must end the connection, never hang or crash.
  const rq = associateRq();
  const preAssociation: Array<[string, Buffer]> = [
    ["an HTTP request", Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n")],
    ["unknown PDU type 0x08", pdu(0x08, Buffer.alloc(4))],
    ["PDU type 0x00", pdu(0x00, Buffer.alloc(10))],
    [
      "A-ASSOCIATE-RQ announcing 4 GiB",
      Buffer.concat([Buffer.from([1, 0, 0xff, 0xff, 0xff, 0xff]), rq.subarray(6)]),
    ],
    ["A-ASSOCIATE-RQ shorter than its fixed fields", pdu(0x01, rq.subarray(6, 40))],
    [
      "A-ASSOCIATE-RQ with an item running past the PDU",
      (() => {
        const b = Buffer.from(rq);
        b.writeUInt16BE(0xffff, 6 + 68 + 2);
        return b;
      })(),
    ],
    ["A-ASSOCIATE-AC sent to an acceptor", pdu(0x02, rq.subarray(6))],
    ["A-ASSOCIATE-RJ sent to an acceptor", pdu(0x03, Buffer.from([0, 1, 1, 1]))],
    ["P-DATA-TF before association", pdata(1, true, true, echoCommand())],
    ["A-RELEASE-RQ before association", pdu(0x05, Buffer.alloc(4))],
    ["A-ABORT before association", pdu(0x07, Buffer.alloc(4))],
    ["a truncated A-ASSOCIATE-RQ, then silence", rq.subarray(0, 50)],
  ];
  for (const [name, bytes] of preAssociation) {
    test(`before association: ${name}`, async () => {
      const peer = await rawPeer(s.port);
      await peer.send(bytes);
      assert.ok(await endedWithin(peer, 4000), "the connection ends");
      assert.ok(!peer.types().includes(0x02), "no association");
    });
  }

  const postAssociation: Array<[string, Buffer]> = [
    ["a PDV item of 5 bytes", pdu(0x04, Buffer.from([0, 0, 0, 1, 1]))],
    [
      "a PDV shorter than its header after a complete one",
      (() => {
        const ok = pdata(1, true, true, echoCommand());
        const body = Buffer.concat([ok.subarray(6), Buffer.from([0, 0, 0])]);
        return pdu(0x04, body);
      })(),
    ],
    ["a PDV item of length 0", pdu(0x04, Buffer.alloc(4))],
    ["a P-DATA-TF with no PDV item", pdu(0x04, Buffer.alloc(0))],
    [
      "a PDV length past its PDU",
      (() => {
        const b = pdata(1, true, true, echoCommand());
        b.writeUInt32BE(0x7fffffff, 6);
        return b;
      })(),
    ],
    ["a data set fragment without a command", pdata(1, false, true, Buffer.alloc(16))],
    ["a command on a context that was not proposed", pdata(9, true, true, echoCommand())],
    ["a command set that is not a command", pdata(1, true, true, Buffer.alloc(64, 0xff))],
    ["a second A-ASSOCIATE-RQ", rq],
    ["a P-DATA-TF announcing 4 GiB", Buffer.from([0x04, 0, 0xff, 0xff, 0xff, 0xff, 0, 0])],
  ];
  for (const [name, bytes] of postAssociation) {
    test(`associated: ${name}`, async () => {
      const peer = await rawAssociation(s.port);
      await peer.send(bytes);
      assert.ok(await endedWithin(peer, 4000), "the association is aborted");
      assert.deepEqual(
        peer.types().filter((t) => t === 0x04),
        [],
        "nothing answered",
      );
    });
  }

  test("the server still serves after all of the above", async () => {
    assert.ok(await echoWorks(s.port));
  });
});

describe("mutated association requests and garbage connections", () => {
  const s = sharedScp(["-ta", "1"]);

  test("150 mutated A-ASSOCIATE-RQs (seeded): each answered or closed, the server alive", async (t) => {
    const rand = prng(8);
    const base = associateRq();
    const outcomes = new Map<string, number>();
    for (let batch = 0; batch < 15; batch++) {
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          const b = Buffer.from(base);
          const kind = Math.floor(rand() * 3);
          if (kind === 0)
            for (let n = 1 + Math.floor(rand() * 6); n > 0; n--)
              b[6 + Math.floor(rand() * (b.length - 6))] = Math.floor(rand() * 256);
          else if (kind === 1) b.writeUInt16BE(Math.floor(rand() * 65536), 6 + 68 + 2);
          const bytes = kind === 2 ? b.subarray(0, 6 + Math.floor(rand() * (b.length - 6))) : b;
          if (kind === 2) bytes.writeUInt32BE(bytes.length - 6, 2);
          const peer = await rawPeer(s.port);
          await peer.send(bytes);
          const ended = await peer.closed(300);
          const types = peer.types();
          const what = types.includes(0x02)
            ? "accepted"
            : types.includes(0x03)
              ? "rejected"
              : types.includes(0x07)
                ? "aborted"
                : ended
                  ? "closed"
                  : "waiting";
          outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
          peer.socket.destroy();
        }),
      );
    }
    t.diagnostic(JSON.stringify(Object.fromEntries(outcomes)));
    assert.ok(await echoWorks(s.port));
  });

  test("2000 garbage connections: descriptors and memory level off, the server alive", async () => {
    const rand = prng(42);
    const warm = procStats(s.pid);
    for (let batch = 0; batch < 40; batch++) {
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          const peer = await rawPeer(s.port);
          const junk = Buffer.alloc(1 + Math.floor(rand() * 512));
          for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(rand() * 256);
          await peer.send(junk);
          peer.socket.end();
          await peer.closed(2000);
          peer.socket.destroy();
        }),
      );
    }
    // Connections left waiting for the rest of a PDU end with the ACSE timeout (-ta 1).
    const settled = await until(() => procStats(s.pid).fds <= warm.fds + 2, 5000, 100);
    const end = procStats(s.pid);
    assert.ok(settled, `descriptors: ${warm.fds} before, ${end.fds} after`);
    assert.ok(end.rssKiB - warm.rssKiB < 64 * 1024, `RSS ${warm.rssKiB} -> ${end.rssKiB} KiB`);
    assert.ok(await echoWorks(s.port));
  });
});

describe("hostile UIDs and AE titles", () => {
  const hostile = [
    "../../escape",
    "/etc/passwd",
    "..",
    ".",
    "a/../../b",
    "..\\..\\win",
    "CON",
    "x\u0000y",
    "$(touch INJ)",
    "1.2;touch INJ_F",
    "`touch INJ_B`",
    "sp ace",
    "ü".repeat(40),
    "9".repeat(300),
  ];
  const namings: string[][] = [
    [],
    ["-su", ""],
    ["-su", "../s"],
    ["-sp"],
    ["-ss", "p"],
    ["+uf"],
    ["-tn"],
    ["--layout", "hierarchy"],
    ["--layout", "{PatientName}/{StudyInstanceUID}/{SOPInstanceUID}.dcm"],
  ];
  for (const naming of namings) {
    test(`${naming.join(" ") || "default names"}: nothing written outside -od`, async () => {
      const sandbox = await mkdtemp(join(work, "sandbox-"));
      const od = join(sandbox, "od");
      await mkdir(od);
      const s = await startStorescpTs(naming, { od, cwd: sandbox });
      try {
        let n = 0;
        for (const v of hostile) {
          const a = await associate(s.port, v.slice(0, 16)).catch(() => associate(s.port));
          const uid = `${v}.${++n}`;
          const status = await store(
            a,
            uid,
            instance({
              sopInstanceUid: uid,
              studyUid: v,
              seriesUid: v,
              patientId: v,
              patientName: v,
            }),
          );
          await a.release().catch(() => undefined);
          assert.ok(
            [0, 0xc000, 0xa700].includes(status),
            `${JSON.stringify(v)}: status 0x${status.toString(16)}`,
          );
        }
      } finally {
        await s.stop();
      }
      const all = await filesUnder(sandbox, { hidden: true });
      for (const f of all)
        assert.ok(resolve(sandbox, f).startsWith(od + sep), `${f} is outside -od`);
      assert.ok(all.length > 0);
      for (const inj of ["INJ", "INJ_F", "INJ_B"]) assert.ok(!existsSync(join(sandbox, inj)), inj);
      assert.equal(relative(od, od), "");
    });
  }
});

describe("hooks receive network values literally, never run them", () => {
  test("-xcr/-xcs with a SOP Instance UID `1.2;touch INJ_F` and a calling AE `$(touch INJ_A)`", async () => {
    const sandbox = await mkdtemp(join(work, "hooks-"));
    const od = join(sandbox, "od");
    await mkdir(od);
    const log = join(sandbox, "hook.log");
    const hook = `echo "stored #p/#f from #a" >> ${log}; echo bare #f #a \`echo #c\` >> ${log}; printf '%s\\n' 'sq #a #f' >> ${log}`;
    const s = await startStorescpTs(
      ["-xcr", hook, "-xs", "-xcs", `echo "end #a" >> ${log}`, "-su", ""],
      { od, cwd: sandbox },
    );
    const uid = "1.2;touch INJ_F";
    try {
      const a = await associate(s.port, "$(touch INJ_A)");
      assert.equal(
        await store(a, uid, instance({ sopInstanceUid: uid, studyUid: "1.2.3`touch INJ_S`" })),
        0,
      );
      await a.release();
    } finally {
      await s.stop();
    }
    const text = await readFile(log, "utf8");
    for (const inj of ["INJ_F", "INJ_A", "INJ_S"]) {
      assert.ok(
        !existsSync(join(sandbox, inj)) && !existsSync(join(od, inj)),
        `${inj} was executed:\n${text}`,
      );
    }
    const lines = text.trim().split("\n");
    assert.equal(lines.length, 4, text);
    assert.match(
      lines[0]!,
      /^stored .*\/od\/1\.2\.3`touch INJ_S`\/SC\.1\.2;touch INJ_F from \$\(touch INJ_A\)$/,
    );
    assert.equal(lines[1], "bare SC.1.2;touch INJ_F $(touch INJ_A) STORESCP");
    assert.equal(
      lines[2],
      'sq "$(touch INJ_A)" SC.1.2;touch INJ_F',
      "#a in single quotes keeps DCMTK's double quotes",
    );
    assert.equal(lines[3], "end $(touch INJ_A)");
  });
});

describe("devpacs (the same acceptor code, default limits)", () => {
  test("a C-ECHO with an endless data set is aborted at the default 4 MiB cap; devpacs keeps serving", async () => {
    const dir = await mkdtemp(join(work, "devpacs-"));
    const pacs = await startDevPacs({ dir });
    try {
      await floodIsCut(pacs.port);
      assert.ok(await echoWorks(pacs.port));
    } finally {
      await pacs.close();
    }
  });
});

describe("a peer that does not speak DICOM (client side)", () => {
  test("findscu-ts and movescu-ts against an HTTP server: one line, DCMTK's 'Unrecognized PDU type', exit 61", async () => {
    const http = createServer((c) => {
      c.on("error", () => undefined);
      c.once("data", () =>
        c.end("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
      );
    });
    await new Promise<void>((res) => http.listen(0, "127.0.0.1", res));
    const port = String((http.address() as { port: number }).port);
    try {
      if (hasDcmtk()) {
        // DCMTK's condition for the same peer, which our line carries.
        const ref = await runDcmtk("findscu", ["-S", "-k", "0008,0052=STUDY", "127.0.0.1", port], {
          timeoutMs: 10_000,
        });
        assert.match(ref.stderr, /Association Request Failed: 0006:0321 Unrecognized PDU type: 48/);
      }
      for (const [tool, args] of [
        ["findscu-ts", ["-S", "-aec", "PACS", "127.0.0.1", port, "-k", "StudyInstanceUID"]],
        [
          "movescu-ts",
          [
            "-S",
            "-aec",
            "PACS",
            "127.0.0.1",
            port,
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            "StudyInstanceUID=1.2.3",
          ],
        ],
      ] as const) {
        const r = await runBin(tool, [...args], { timeoutMs: 20_000 });
        assert.equal(r.code, 61, `${tool}: ${r.stderr}`);
        const lines = r.stderr.trim().split("\n");
        assert.equal(lines.length, 1, `${tool} prints one line:\n${r.stderr}`);
        assert.match(
          lines[0]!,
          new RegExp(
            `^E: ${tool}: Association Request Failed: 0006:0321 Unrecognized PDU type: 48 \\(the peer does not speak DICOM\\)$`,
          ),
        );
      }
    } finally {
      http.close();
    }
  });
});

test("a write the file system refuses (file size limit, as a full disk): 0xA700, no partial or temporary file, later instances stored", async () => {
  const od = await mkdtemp(join(work, "full-"));
  const port = await freePort();
  // ulimit -f counts 1024-byte blocks: files up to 512 KiB.
  const child = spawn(
    "/bin/sh",
    [
      "-c",
      `ulimit -f 512 && exec "${process.execPath}" "${binPath("storescp-ts")}" -od "${od}" ${port}`,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const err: Buffer[] = [];
  child.stderr.on("data", (b: Buffer) => err.push(b));
  child.stdout.resume();
  try {
    assert.ok(await until(() => isListening(port), 10_000, 25), "storescp-ts listens");
    const a = await associate(port);
    const uid = "1.2.826.0.1.3680043.2.1125.6.1";
    const head = Buffer.concat([
      instance({ sopInstanceUid: uid }),
      Buffer.from([0x09, 0x00, 0x00, 0x10, 0x4f, 0x42, 0, 0]),
      Buffer.alloc(4),
    ]);
    const value = Buffer.alloc(2 * 1024 * 1024, 0x55);
    head.writeUInt32LE(value.length, head.length - 4);
    assert.equal(await store(a, uid, Buffer.concat([head, value])), 0xa700);
    const small = "1.2.826.0.1.3680043.2.1125.6.2";
    assert.equal(await store(a, small, instance({ sopInstanceUid: small })), 0);
    await a.release();
    assert.deepEqual(
      await filesUnder(od, { hidden: true }),
      [`SC.${small}`],
      "only the stored instance; no .part file",
    );
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("close", r));
  }
  assert.match(
    Buffer.concat(err).toString(),
    /E: storescp-ts: storing 1\.2\.826\.0\.1\.3680043\.2\.1125\.6\.1 failed: .*EFBIG/,
  );
});
