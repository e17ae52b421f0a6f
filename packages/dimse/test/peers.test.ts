/** Named peers: the peers file's checks and the order of host, port and AE title sources. */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parsePeers, peersPath, resolvePeer, UsageError } from "../src/cli/index.js";

let dir: string;
let file: string;
const PEERS = {
  PACS: { host: "pacs.example", port: 104, aec: "PACS", aet: "ME", listenPort: 11113 },
  archive: { host: "10.0.0.2", port: 11112 },
};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "peers-"));
  file = join(dir, "peers.json");
  await writeFile(file, JSON.stringify(PEERS));
});
after(() => rm(dir, { recursive: true, force: true }));

const usage = (re: RegExp) => (e: unknown) =>
  e instanceof UsageError && e.code === 2 && re.test(e.message);

test("peersPath: --peers, else $DICOM_PIPES_PEERS, else $XDG_CONFIG_HOME, else ~/.config", () => {
  const env = { DICOM_PIPES_PEERS: "/env/p.json", XDG_CONFIG_HOME: "/xdg", HOME: "/home/u" };
  assert.equal(peersPath("/flag.json", env), "/flag.json");
  assert.equal(peersPath(undefined, env), "/env/p.json");
  assert.equal(
    peersPath(undefined, { XDG_CONFIG_HOME: "/xdg", HOME: "/home/u" }),
    "/xdg/dicom-pipes/peers.json",
  );
  assert.equal(peersPath(undefined, { HOME: "/home/u" }), "/home/u/.config/dicom-pipes/peers.json");
});

test("--peer fills host, port, -aec, -aet and the listen port from the file", () => {
  const opts: Record<string, unknown> = { peerName: "PACS", peersFile: file };
  assert.deepEqual(resolvePeer(["q.dcm"], opts, {}, true), {
    peer: "pacs.example",
    port: 104,
    rest: ["q.dcm"],
  });
  assert.equal(opts.call, "PACS");
  assert.equal(opts.aetitle, "ME");
  assert.equal(opts.port, 11113);
  const get: Record<string, unknown> = { peerName: "PACS", peersFile: file };
  resolvePeer([], get, {}, false);
  assert.equal(get.port, undefined, "no listen port for a tool that does not listen");
});

test("the order is file < environment < flags, and positional peer port win over the file", () => {
  const env = { DICOM_PIPES_PEERS: file, DICOM_PIPES_AET: "ENVAET", DICOM_PIPES_PORT: "4242" };
  const fromEnv: Record<string, unknown> = { peerName: "PACS" };
  assert.deepEqual(resolvePeer([], fromEnv, env, true), {
    peer: "pacs.example",
    port: 104,
    rest: [],
  });
  assert.equal(fromEnv.aetitle, "ENVAET");
  assert.equal(fromEnv.port, 4242);
  assert.equal(fromEnv.call, "PACS");

  const flags: Record<string, unknown> = {
    peerName: "PACS",
    aetitle: "FLAG",
    call: "OTHER",
    port: 5000,
  };
  assert.deepEqual(resolvePeer(["127.0.0.1", "4000", "a.dcm"], flags, env, true), {
    peer: "127.0.0.1",
    port: 4000,
    rest: ["a.dcm"],
  });
  assert.deepEqual([flags.aetitle, flags.call, flags.port], ["FLAG", "OTHER", 5000]);

  // Without --peer the file is not read; the environment still applies.
  const plain: Record<string, unknown> = { peersFile: join(dir, "missing.json") };
  assert.deepEqual(resolvePeer(["h", "104"], plain, env, true), { peer: "h", port: 104, rest: [] });
  assert.deepEqual([plain.aetitle, plain.port, plain.call], ["ENVAET", 4242, undefined]);
});

test("an unknown name is exit 2 naming the file's peers and the nearest one", () => {
  assert.throws(
    () => resolvePeer([], { peerName: "pcs", peersFile: file }),
    usage(/unknown peer "pcs" \(did you mean "PACS"\?\).*the file has "PACS", "archive"/),
  );
  assert.throws(
    () => resolvePeer([], { peerName: "x", peersFile: join(dir, "none.json") }),
    usage(/none\.json: it does not exist/),
  );
});

test("a malformed file is exit 2 naming the file and what is wrong, without quoting values", async () => {
  const bad = join(dir, "bad.json");
  const cases: Array<[string, RegExp]> = [
    [
      '{\n  "PACS": {"host": "h", "port": 104,}\n}',
      /bad\.json: not valid JSON at line 2, column \d+/,
    ],
    ["[]", /expected a JSON object of named peers/],
    [
      '{"P": {"host": "h", "port": "104"}}',
      /peer "P": field "port": expected a port number from 1 to 65535/,
    ],
    ['{"P": {"host": "h", "port": 70000}}', /field "port": expected a port number/],
    ['{"P": {"port": 104}}', /peer "P": field "host": expected a host name/],
    [
      '{"P": {"host": "h", "port": 104, "aec": "A_VERY_LONG_AE_TITLE_X"}}',
      /field "aec": expected an AE title of 1 to 16/,
    ],
    [
      '{"P": {"host": "h", "port": 104, "listenPort": 0}}',
      /field "listenPort": expected a port number/,
    ],
    ['{"P": {"host": "h", "port": 104, "password": "s3cret"}}', /unknown field "password"/],
  ];
  for (const [text, re] of cases) {
    await writeFile(bad, text);
    assert.throws(
      () => resolvePeer([], { peerName: "P", peersFile: bad }),
      (e: unknown) => usage(re)(e) && !String((e as Error).message).includes("s3cret"),
      text,
    );
  }
  assert.throws(
    () => resolvePeer(["h", "104"], {}, { DICOM_PIPES_PORT: "99999" }, true),
    usage(/DICOM_PIPES_PORT: expected a port number/),
  );
  assert.throws(
    () => resolvePeer(["h", "104"], {}, { DICOM_PIPES_AET: `${"X".repeat(17)}` }),
    usage(/DICOM_PIPES_AET: expected an AE title/),
  );
});

test("parsePeers keeps every valid entry", () => {
  const peers = parsePeers(JSON.stringify(PEERS));
  assert.deepEqual(Object.fromEntries(peers), PEERS);
});
