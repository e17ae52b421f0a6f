/**
 * Named peers: `--peer NAME` takes the host, port, called and calling AE
 * titles and the listen port from a peers file, a JSON object
 * `{"NAME": {"host", "port", "aec", "aet", "listenPort"}}`.
 *
 * The file is `--peers FILE`, else `$DICOM_PIPES_PEERS`, else
 * `$XDG_CONFIG_HOME/dicom-pipes/peers.json` (`~/.config/...` without
 * XDG_CONFIG_HOME); it is read only when `--peer` is given.
 *
 * Each setting comes from, lowest first: the peers file, the environment
 * (`DICOM_PIPES_AET` calling AE title, `DICOM_PIPES_PORT` listen port), the
 * flags (`-aet`, `-aec`, `+P`); DCMTK's positional `peer port` wins over
 * the file's host and port.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { OptionSpec } from "./args.js";
import { UsageError } from "./exit.js";
import { parsePort } from "./dcmtk.js";
import { nearestName, unknownName } from "../records/columns.js";

export interface NamedPeer {
  host: string;
  port: number;
  aec?: string;
  aet?: string;
  listenPort?: number;
}

/** The environment variables the network tools read. */
export const PEER_ENV = {
  peers: "DICOM_PIPES_PEERS",
  aet: "DICOM_PIPES_AET",
  listenPort: "DICOM_PIPES_PORT",
} as const;

/** `--peer NAME` and `--peers FILE`, for every SCU. */
export function peerOptions(group: string): OptionSpec<"peerName" | "peersFile">[] {
  return [
    {
      key: "peerName",
      flags: ["--peer"],
      kind: "value",
      metavar: "NAME",
      group,
      describe:
        "take host, port, -aec, -aet (and the receive port)\nfrom the peers file's entry NAME; positional peer port\nand flags win",
    },
    {
      key: "peersFile",
      flags: ["--peers"],
      kind: "value",
      metavar: "FILE",
      group,
      describe: `the peers file (default: $${PEER_ENV.peers}, else\n$XDG_CONFIG_HOME/dicom-pipes/peers.json)`,
    },
  ];
}

/** The peers file in use: `--peers`, else the environment, else the XDG default. */
export function peersPath(flag: unknown, env: NodeJS.ProcessEnv = {}): string {
  if (typeof flag === "string" && flag !== "") return flag;
  if (env[PEER_ENV.peers]) return env[PEER_ENV.peers]!;
  const config = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
  return join(config, "dicom-pipes", "peers.json");
}

const FIELDS = ["host", "port", "aec", "aet", "listenPort"] as const;

/** `line L, column C` of a character offset. */
function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split("\n");
  return `line ${before.length}, column ${before[before.length - 1]!.length + 1}`;
}

function checkAe(v: unknown, where: string): string {
  if (typeof v !== "string") throw new Error(`${where}: expected an AE title (a string)`);
  if (v.trim() === "" || v.length > 16 || /[\\\x00-\x1f\x7f]/.test(v))
    throw new Error(
      `${where}: expected an AE title of 1 to 16 characters without backslash or control characters`,
    );
  return v;
}

function checkPort(v: unknown, where: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 65535)
    throw new Error(`${where}: expected a port number from 1 to 65535`);
  return v;
}

/**
 * Parse and check a peers file's text; an error names the position of bad
 * JSON, or the entry and field that is wrong. Values are never quoted in
 * messages (an entry may hold something private).
 */
export function parsePeers(text: string): Map<string, NamedPeer> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    const m = /position (\d+)/.exec((e as Error).message);
    const at =
      text.trim() === ""
        ? " (the file is empty)"
        : ` at ${lineColumn(text, m ? Number(m[1]) : text.length)}`;
    throw new Error(
      `not valid JSON${at}: ${(e as Error).message.replace(/ in JSON at position \d+.*$/, "")}`,
    );
  }
  if (typeof data !== "object" || data === null || Array.isArray(data))
    throw new Error(`expected a JSON object of named peers, {"NAME": {"host": ..., "port": ...}}`);
  const peers = new Map<string, NamedPeer>();
  for (const [name, entry] of Object.entries(data)) {
    const where = `peer "${name}"`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry))
      throw new Error(`${where}: expected an object with host and port`);
    const e = entry as Record<string, unknown>;
    for (const k of Object.keys(e)) {
      if (!(FIELDS as readonly string[]).includes(k))
        throw new Error(`${where}: unknown field "${k}" (expected ${FIELDS.join(", ")})`);
    }
    if (typeof e.host !== "string" || e.host.trim() === "" || /[\s\x00-\x1f\x7f]/.test(e.host))
      throw new Error(
        `${where}: field "host": expected a host name or address (a non-empty string without spaces)`,
      );
    const peer: NamedPeer = { host: e.host, port: checkPort(e.port, `${where}: field "port"`) };
    if (e.aec !== undefined) peer.aec = checkAe(e.aec, `${where}: field "aec"`);
    if (e.aet !== undefined) peer.aet = checkAe(e.aet, `${where}: field "aet"`);
    if (e.listenPort !== undefined)
      peer.listenPort = checkPort(e.listenPort, `${where}: field "listenPort"`);
    peers.set(name, peer);
  }
  return peers;
}

/** The entry `name` of the peers file at `path`; a usage error (exit 2) otherwise. */
export function loadPeer(path: string, name: string): NamedPeer {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(
      `--peer ${name}: cannot read the peers file ${path}: ${code === "ENOENT" ? `it does not exist (create it, or name one with --peers or $${PEER_ENV.peers})` : (e as Error).message}`,
    );
  }
  let peers: Map<string, NamedPeer>;
  try {
    peers = parsePeers(text);
  } catch (e) {
    throw new UsageError(`peers file ${path}: ${(e as Error).message}`);
  }
  const peer = peers.get(name);
  if (peer) return peer;
  const names = [...peers.keys()];
  const known = names.length
    ? `the file has ${names.map((n) => `"${n}"`).join(", ")}`
    : "the file has no peers";
  throw new UsageError(
    `--peer: ${unknownName("peer", name, nearestName(name, names))} in ${path}; ${known}`,
  );
}

/**
 * DCMTK's `peer port [rest...]`, completed by `--peer` and the
 * environment: fills `opts.call`, `opts.aetitle` and (with `listen`)
 * `opts.port` where no flag set them. With `--peer`, positionals start with
 * `peer port` only when the second one is a port number.
 */
export function resolvePeer(
  positionals: string[],
  opts: Record<string, unknown>,
  env: NodeJS.ProcessEnv = {},
  listen = false,
): { peer: string; port: number; rest: string[] } {
  const named =
    typeof opts.peerName === "string"
      ? loadPeer(peersPath(opts.peersFile, env), opts.peerName)
      : undefined;
  if (opts.aetitle === undefined) {
    const aet = env[PEER_ENV.aet] || named?.aet;
    if (aet) opts.aetitle = env[PEER_ENV.aet] ? envAe(aet) : aet;
  }
  if (opts.call === undefined && named?.aec) opts.call = named.aec;
  if (listen && opts.port === undefined) {
    const text = env[PEER_ENV.listenPort];
    if (text) {
      if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 65535)
        throw new UsageError(`$${PEER_ENV.listenPort}: expected a port number from 1 to 65535`);
      opts.port = Number(text);
    } else if (named?.listenPort !== undefined) opts.port = named.listenPort;
  }
  if (named && !(positionals.length >= 2 && /^\d+$/.test(positionals[1]!)))
    return { peer: named.host, port: named.port, rest: positionals };
  const [peer, portText, ...rest] = positionals;
  if (!peer) throw new UsageError("Missing parameter peer (or --peer NAME)");
  if (!portText) throw new UsageError("Missing parameter port");
  return { peer, port: parsePort(portText), rest };
}

function envAe(v: string): string {
  try {
    return checkAe(v, `$${PEER_ENV.aet}`);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
