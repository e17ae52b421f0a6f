/**
 * Named peers, end to end: findscu-ts, movescu-ts and echoscu-ts take the
 * host, port, called AE title and listen port from a peers file named by
 * $DICOM_PIPES_PEERS or --peers, against a dev PACS that rejects any other
 * called AE title.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateArchive } from "@dicom-pipes/gen-archive";
import { startDevPacs, type DevPacs } from "@dicom-pipes/devpacs";
import { ndjson, runBin } from "@dicom-pipes/test-support/bins";
import { freePort } from "@dicom-pipes/test-support/peers";

let dir: string;
let pacs: DevPacs;
let peers: string;
let listenPort: number;
let closedPort: number;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "named-peers-"));
  await generateArchive({
    out: join(dir, "archive"),
    patients: 1,
    seed: "peers",
    studiesPerPatient: 2,
    seriesPerStudy: 1,
    instancesPerSeries: 2,
    rows: 8,
    cols: 8,
  });
  listenPort = await freePort();
  closedPort = await freePort();
  pacs = await startDevPacs({
    dir: join(dir, "archive"),
    aet: "NAMEDPACS",
    strictCalledAet: true,
    moveDestinations: { MOVESCU: { host: "127.0.0.1", port: listenPort } },
  });
  peers = join(dir, "peers.json");
  await writeFile(
    peers,
    JSON.stringify({
      pacs: { host: "127.0.0.1", port: pacs.port, aec: "NAMEDPACS", aet: "ME", listenPort },
      elsewhere: { host: "127.0.0.1", port: closedPort, aec: "NAMEDPACS" },
    }),
  );
});
after(async () => {
  await pacs?.close();
  await rm(dir, { recursive: true, force: true });
});

const studyQuery = ["-S", "-sr", "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID"];

test("findscu-ts --peer NAME with the file from $DICOM_PIPES_PEERS, and from --peers", async () => {
  const viaEnv = await runBin("findscu-ts", ["--peer", "pacs", ...studyQuery], {
    env: { DICOM_PIPES_PEERS: peers },
  });
  assert.equal(viaEnv.code, 0, viaEnv.stderr);
  assert.equal(ndjson(viaEnv.stdout).length, 2);
  const viaFlag = await runBin("findscu-ts", ["--peers", peers, "--peer", "pacs", ...studyQuery], {
    env: { DICOM_PIPES_PEERS: join(dir, "absent.json") },
  });
  assert.equal(viaFlag.code, 0, viaFlag.stderr);
  assert.deepEqual(ndjson(viaFlag.stdout), ndjson(viaEnv.stdout));
});

test("findscu-ts: positional peer port win over the file, -aec over its aec", async () => {
  const positional = await runBin("findscu-ts", [
    "--peers",
    peers,
    "--peer",
    "elsewhere",
    ...studyQuery,
    "127.0.0.1",
    String(pacs.port),
  ]);
  assert.equal(positional.code, 0, positional.stderr);
  assert.equal(ndjson(positional.stdout).length, 2);
  const aec = await runBin("findscu-ts", [
    "--peers",
    peers,
    "--peer",
    "pacs",
    "-aec",
    "WRONG",
    ...studyQuery,
  ]);
  assert.notEqual(aec.code, 0, "the PACS rejects a called AE title that is not its own");
  assert.match(aec.stderr, /reject/i);
});

test("movescu-ts --peer NAME moves to itself on the file's listenPort", async () => {
  const od = join(dir, "moved");
  await mkdir(od);
  const found = await runBin("findscu-ts", [
    "--peers",
    peers,
    "--peer",
    "pacs",
    ...studyQuery,
    "-k",
    "PatientID",
  ]);
  const patient = String(ndjson(found.stdout)[0]?.PatientID);
  const r = await runBin("movescu-ts", [
    "--peers",
    peers,
    "--peer",
    "pacs",
    "-od",
    od,
    "-P",
    "-k",
    "QueryRetrieveLevel=PATIENT",
    "-k",
    `PatientID=${patient}`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await readdir(od)).length, 4, "both studies' instances arrived on the listen port");
  // Without --peer, $DICOM_PIPES_PORT is the receive port (as +P).
  const od2 = join(dir, "moved-env");
  await mkdir(od2);
  const env = await runBin(
    "movescu-ts",
    [
      "-aec",
      "NAMEDPACS",
      "-od",
      od2,
      "-P",
      "-k",
      "QueryRetrieveLevel=PATIENT",
      "-k",
      `PatientID=${patient}`,
      "127.0.0.1",
      String(pacs.port),
    ],
    { env: { DICOM_PIPES_PORT: String(listenPort) } },
  );
  assert.equal(env.code, 0, env.stderr);
  assert.equal((await readdir(od2)).length, 4, "received on $DICOM_PIPES_PORT");
});

test("echoscu-ts --peer NAME", async () => {
  const r = await runBin("echoscu-ts", ["--peer", "pacs"], { env: { DICOM_PIPES_PEERS: peers } });
  assert.equal(r.code, 0, r.stderr);
  const [rec] = ndjson(r.stdout);
  assert.equal(rec?.peer, `127.0.0.1:${pacs.port}`);
  assert.equal(rec?.aec, "NAMEDPACS");
});

test("an unknown name and a malformed file are exit 2 naming the file and what is wrong", async () => {
  const unknown = await runBin("echoscu-ts", ["--peers", peers, "--peer", "pac"]);
  assert.equal(unknown.code, 2);
  assert.match(
    unknown.stderr,
    /unknown peer "pac" \(did you mean "pacs"\?\).*the file has "pacs", "elsewhere"/,
  );
  const bad = join(dir, "bad.json");
  await writeFile(bad, `{"pacs": {"host": "127.0.0.1", "port": 104.5}}`);
  const malformed = await runBin("findscu-ts", ["--peers", bad, "--peer", "pacs", ...studyQuery]);
  assert.equal(malformed.code, 2);
  assert.match(
    malformed.stderr,
    /^E: findscu-ts: peers file .*bad\.json: peer "pacs": field "port": expected a port number/m,
  );
});
