/**
 * storescp-ts under a hostile peer: what it holds while a peer floods a
 * C-ECHO data set or endless command fragments (1 GiB offered each), opens
 * 300 idle associations against the default limit of 100 (closed by -td),
 * and opens 20 000 garbage connections. Prints the server's RSS, peak RSS
 * and open descriptors from /proc. Linux only.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startStorescpTs } from "@dicom-pipes/test-support/corpus";
import {
  associate,
  echoCommand,
  echoWorks,
  pdata,
  procStats,
  rawAssociation,
  rawPeer,
} from "@dicom-pipes/test-support/hostile";

if (process.platform !== "linux") {
  console.log("hostile bench reads /proc: Linux only");
  process.exit(0);
}

const GiB = 1024 * 1024 * 1024;
const od = await mkdtemp(join(tmpdir(), "bench-hostile-"));
const s = await startStorescpTs(["-td", "5"], { od });
const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
const start = procStats(s.pid);
console.log(`storescp-ts -td 5, idle: RSS ${mib(start.rssKiB)}, ${start.fds} descriptors`);

async function flood(what: string, first: Buffer | undefined, chunk: Buffer): Promise<void> {
  const peer = await rawAssociation(s.port);
  if (first) await peer.send(first);
  let sent = 0;
  const t0 = Date.now();
  while (sent < GiB && (await peer.send(chunk))) sent += chunk.length;
  await peer.closed(5000);
  const st = procStats(s.pid);
  console.log(
    `${what} (1 GiB offered): association ended after ${(sent / 1048576).toFixed(1)} MiB written, ${Date.now() - t0} ms; server peak RSS ${mib(st.peakKiB)}`,
  );
}
await flood(
  "C-ECHO with a data set",
  pdata(1, true, true, echoCommand(1, true)),
  pdata(1, false, false, Buffer.alloc(1024 * 1024, 0x41)),
);
await flood(
  "command set in fragments",
  undefined,
  pdata(1, true, false, Buffer.alloc(16384, 0x20)),
);

const tries = await Promise.allSettled(Array.from({ length: 300 }, () => associate(s.port)));
const accepted = tries.filter((r) => r.status === "fulfilled").length;
console.log(
  `300 idle associations: ${accepted} accepted, ${300 - accepted} rejected (local limit exceeded); ${procStats(s.pid).fds} descriptors`,
);
const t0 = Date.now();
while (procStats(s.pid).fds > start.fds + 2 && Date.now() - t0 < 20000)
  await new Promise((r) => setTimeout(r, 100));
console.log(
  `  all closed by the server after ${Date.now() - t0} ms; ${procStats(s.pid).fds} descriptors; C-ECHO answered: ${await echoWorks(s.port)}`,
);

for (let round = 1; round <= 4; round++) {
  const t = Date.now();
  for (let b = 0; b < 100; b++) {
    await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const p = await rawPeer(s.port);
        await p.send(Buffer.from(`GARBAGE ${b} ${i} `.repeat(8)));
        p.socket.end();
        await p.closed(2000);
        p.socket.destroy();
      }),
    );
  }
  const st = procStats(s.pid);
  console.log(
    `${round * 5000} garbage connections (${Date.now() - t} ms for the last 5000): RSS ${mib(st.rssKiB)}, peak ${mib(st.peakKiB)}, ${st.fds} descriptors`,
  );
}
console.log(`C-ECHO answered: ${await echoWorks(s.port)}`);
await s.stop();
await rm(od, { recursive: true, force: true });
