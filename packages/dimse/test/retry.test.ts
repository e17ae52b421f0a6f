/**
 * The retry policy: which failures are transient (PS3.8 A-ASSOCIATE-RJ
 * result 2 is rejected-transient, 1 rejected-permanent; PS3.4 C.4 status
 * 0xA7xx refused: out of resources, 0xC001 unable to process as the batch
 * tools' documentation says), the back-off bounds, and the interruptible
 * wait. Real sockets where a failure is classified.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import {
  connect,
  isTransientNetError,
  isTransientStatus,
  NetError,
  retryDelayMs,
  retryWait,
  sleep,
  withRetries,
  MAX_RETRY_WAIT_MS,
} from "@dicom-pipes/dimse/net";
import { SopClass, UNCOMPRESSED_SYNTAXES } from "@dicom-pipes/dimse/dicom";
import { serve } from "@dicom-pipes/dimse/net";
import { freePort } from "@dicom-pipes/test-support/peers";

const HOST = "127.0.0.1";
const echo = [
  { abstractSyntax: SopClass.Verification, transferSyntaxes: [...UNCOMPRESSED_SYNTAXES] },
];

async function connectError(port: number): Promise<unknown> {
  return connect({ host: HOST, port, callingAet: "A", calledAet: "B", contexts: echo }).then(
    (a) => {
      a.abort();
      return undefined;
    },
    (e: unknown) => e,
  );
}

test("statuses: 0xA7xx and 0xC001 are transient; 0xA801, 0xA900, 0xC000, 0xC002, 0x0110 are not", () => {
  for (const s of [0xa700, 0xa701, 0xa702, 0xc001])
    assert.equal(isTransientStatus(s), true, s.toString(16));
  for (const s of [0x0000, 0xa801, 0xa900, 0xc000, 0xc002, 0x0110, 0x0122, 0xfe00, 0xb000])
    assert.equal(isTransientStatus(s), false, s.toString(16));
});

test("connection refused (nothing listening) is transient", async () => {
  const e = await connectError(await freePort());
  assert.ok(e instanceof NetError);
  assert.equal(e.errno, "ECONNREFUSED");
  assert.equal(isTransientNetError(e), true);
});

test("rejected-transient is retried, rejected-permanent is not; no acceptable context is not", async () => {
  for (const [result, transient] of [
    [2, true],
    [1, false],
  ] as const) {
    const s = await serve({
      port: 0,
      host: HOST,
      decide: () => ({ reject: { result, source: 1, reason: 1 } }),
      established: () => undefined,
    });
    try {
      const e = await connectError(s.port);
      assert.ok(e instanceof NetError && e.kind === "rejected");
      assert.equal(e.rejectResult, result);
      assert.equal(isTransientNetError(e), transient);
    } finally {
      await s.close(0);
    }
  }
  const none = await serve({
    port: 0,
    host: HOST,
    decide: () => ({ contexts: [] }),
    established: () => undefined,
  });
  try {
    const e = await connectError(none.port);
    assert.ok(e instanceof NetError && e.kind === "no-context", String(e));
    assert.equal(isTransientNetError(e), false);
  } finally {
    await none.close(0);
  }
  assert.equal(isTransientNetError(new Error("usage")), false);
});

test("a connection reset before the association is transient", async () => {
  const server = createServer((sock) => sock.resetAndDestroy());
  await new Promise<void>((ok) => server.listen(0, HOST, ok));
  try {
    const e = await connectError((server.address() as { port: number }).port);
    assert.ok(e instanceof NetError, String(e));
    assert.equal(
      isTransientNetError(e),
      true,
      `${(e as NetError).kind}: ${(e as NetError).message}`,
    );
  } finally {
    await new Promise((ok) => server.close(ok));
  }
});

test("back-off: doubles per retry within ±20 %, capped at 5 minutes", () => {
  const p = { retries: 10, waitMs: 2000 };
  assert.equal(
    retryDelayMs(p, 1, () => 0),
    1600,
  );
  assert.equal(
    retryDelayMs(p, 1, () => 1),
    2400,
  );
  assert.equal(
    retryDelayMs(p, 3, () => 0.5),
    8000,
  );
  assert.equal(
    retryDelayMs(p, 20, () => 1),
    MAX_RETRY_WAIT_MS,
  );
  assert.equal(retryDelayMs({ retries: 1, waitMs: 0 }, 1), 0);
});

test("withRetries: retries thrown transient errors and flagged values, stops at the limit, rethrows others", async () => {
  const logs: string[] = [];
  const o = { policy: { retries: 2, waitMs: 1 }, warn: (m: string) => logs.push(m) };
  let n = 0;
  const r = await withRetries(o, async () => ({ value: ++n, retry: n < 3 ? "busy" : undefined }));
  assert.deepEqual(r, { value: 3, attempts: 3 });
  assert.match(logs[0]!, /^association failed \(busy\); retry 1 of 2 in 0\.00 s$/);
  const spent = await withRetries(o, async () => ({ value: "x", retry: "busy" }));
  assert.deepEqual(spent, { value: "x", attempts: 3 });
  let calls = 0;
  const permanent = new NetError("rejected", "Association Rejected: x", "Association Rejected:");
  permanent.rejectResult = 1;
  await assert.rejects(
    withRetries(o, async () => {
      calls++;
      throw permanent;
    }),
    (e) => e === permanent,
  );
  assert.equal(calls, 1);
});

test("an abort ends a back-off wait at once and leaves no listener behind", async () => {
  const ac = new AbortController();
  let added = 0;
  let removed = 0;
  const add = ac.signal.addEventListener.bind(ac.signal);
  const remove = ac.signal.removeEventListener.bind(ac.signal);
  ac.signal.addEventListener = ((...a: Parameters<typeof add>) => (
    added++, add(...a)
  )) as typeof add;
  ac.signal.removeEventListener = ((...a: Parameters<typeof remove>) => (
    removed++, remove(...a)
  )) as typeof remove;
  // Waits that end by time remove their listener.
  for (let i = 0; i < 5; i++) await sleep(1, ac.signal);
  assert.equal(added, 5);
  assert.equal(removed, 5);
  const t0 = Date.now();
  setTimeout(() => ac.abort(), 20);
  const go = await retryWait(
    { policy: { retries: 3, waitMs: 600000 }, signal: ac.signal, warn: () => undefined },
    1,
    "busy",
  );
  assert.equal(go, false, "no retry after an interrupted wait");
  assert.ok(Date.now() - t0 < 10000);
  assert.equal(
    await retryWait(
      { policy: { retries: 3, waitMs: 1 }, signal: ac.signal, warn: () => undefined },
      1,
      "busy",
    ),
    false,
    "no wait once aborted",
  );
});
