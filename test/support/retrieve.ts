/**
 * Helpers for the retrieve (movescu-ts / getscu-ts) suites: a minimal,
 * independent Part 10 reader (file meta group → dataset bytes), directory
 * walks, the archive's instances by SOP Instance UID, and a spawned bin
 * that can be signalled while it runs. Node built-ins only.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFile, readdir } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { createHash } from "node:crypto";
import { binPath, type RunResult } from "./bins.js";

/** VRs whose explicit-VR length field is 4 bytes (after 2 reserved bytes). */
const LONG_VRS = new Set(["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT"]);

export interface Part10 {
  /** (0002,0003) MediaStorageSOPInstanceUID. */
  sopInstanceUid: string;
  /** (0002,0002) MediaStorageSOPClassUID. */
  sopClassUid: string;
  /** (0002,0010) TransferSyntaxUID. */
  transferSyntax: string;
  /** Everything after the file meta group, as stored. */
  dataset: Buffer;
}

/** Split a Part 10 file into its meta information and the dataset bytes (PS3.10 7.1: explicit VR LE group 0002). */
export function splitPart10(buf: Buffer): Part10 {
  if (buf.length < 132 || buf.toString("latin1", 128, 132) !== "DICM") throw new Error("not a Part 10 file (no DICM prefix)");
  let off = 132;
  const meta = new Map<number, string>();
  while (off + 8 <= buf.length && buf.readUInt16LE(off) === 0x0002) {
    const el = buf.readUInt16LE(off + 2);
    const vr = buf.toString("latin1", off + 4, off + 6);
    let len: number;
    let head: number;
    if (LONG_VRS.has(vr)) {
      len = buf.readUInt32LE(off + 8);
      head = 12;
    } else {
      len = buf.readUInt16LE(off + 6);
      head = 8;
    }
    if (vr === "UI" || vr === "AE" || vr === "SH") meta.set(el, buf.toString("latin1", off + head, off + head + len).replace(/[\0 ]+$/, ""));
    off += head + len;
  }
  return {
    sopClassUid: meta.get(0x0002) ?? "",
    sopInstanceUid: meta.get(0x0003) ?? "",
    transferSyntax: meta.get(0x0010) ?? "",
    dataset: buf.subarray(off),
  };
}

export function sha1(b: Buffer): string {
  return createHash("sha1").update(b).digest("hex");
}

/** Every regular file under `dir` (hidden ones too), as paths relative to `dir`, sorted. */
export async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  const go = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) await go(p);
      else out.push(relative(dir, p).split(sep).join("/"));
    }
  };
  await go(dir);
  return out.sort();
}

/** Every directory under `dir`, relative, sorted. */
export async function walkDirs(dir: string): Promise<string[]> {
  const out: string[] = [];
  const go = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const p = join(d, e.name);
      out.push(relative(dir, p).split(sep).join("/"));
      await go(p);
    }
  };
  await go(dir);
  return out.sort();
}

export interface SourceInstance {
  path: string;
  sopInstanceUid: string;
  sopClassUid: string;
  transferSyntax: string;
  datasetSha1: string;
  size: number;
}

/** The instances of a folder of Part 10 files (e.g. a generated archive), by SOP Instance UID. */
export async function sourceInstances(dir: string): Promise<Map<string, SourceInstance>> {
  const map = new Map<string, SourceInstance>();
  for (const rel of await walk(dir)) {
    const path = join(dir, rel);
    const buf = await readFile(path);
    let p: Part10;
    try {
      p = splitPart10(buf);
    } catch {
      continue;
    }
    map.set(p.sopInstanceUid, { path, sopInstanceUid: p.sopInstanceUid, sopClassUid: p.sopClassUid, transferSyntax: p.transferSyntax, datasetSha1: sha1(p.dataset), size: buf.length });
  }
  return map;
}

export interface ReceivedCheck {
  /** SOP Instance UIDs received (from the files' meta), sorted. */
  uids: string[];
  /** Files whose dataset differs from the source's (relative paths). */
  differing: string[];
  /** Files whose instance is not in the source. */
  unknown: string[];
  /** SOP Instance UIDs present in more than one file. */
  duplicates: string[];
}

/** Compare received files (relative to `root`) with the source instances: UIDs and dataset bytes. */
export async function checkReceived(root: string, files: string[], source: Map<string, SourceInstance>): Promise<ReceivedCheck> {
  const seen = new Map<string, number>();
  const differing: string[] = [];
  const unknown: string[] = [];
  for (const rel of files) {
    const p = splitPart10(await readFile(join(root, rel)));
    seen.set(p.sopInstanceUid, (seen.get(p.sopInstanceUid) ?? 0) + 1);
    const src = source.get(p.sopInstanceUid);
    if (!src) unknown.push(rel);
    else if (sha1(p.dataset) !== src.datasetSha1 || p.sopClassUid !== src.sopClassUid) differing.push(rel);
  }
  return {
    uids: [...seen.keys()].sort(),
    differing,
    unknown,
    duplicates: [...seen].filter(([, n]) => n > 1).map(([u]) => u),
  };
}

export interface Started {
  child: ChildProcess;
  /** stdout and stderr collected so far. */
  out(): string;
  err(): string;
  done: Promise<RunResult>;
}

/** Spawn a workspace bin and keep its handle (to signal it); stdin gets `input` then closes. */
export function startBin(tool: string, args: string[], o: { input?: string; cwd?: string; env?: Record<string, string> } = {}): Started {
  const child = spawn(process.execPath, [binPath(tool), ...args], { cwd: o.cwd, env: { ...process.env, TCP_NODELAY: "1", ...o.env }, stdio: ["pipe", "pipe", "pipe"] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on("data", (c: Buffer) => out.push(c));
  child.stderr!.on("data", (c: Buffer) => err.push(c));
  child.stdin!.on("error", () => undefined);
  child.stdin!.end(o.input ?? "");
  const done = new Promise<RunResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const stdoutBytes = Buffer.concat(out);
      resolve({ code, signal, stdout: stdoutBytes.toString("utf8"), stderr: Buffer.concat(err).toString("latin1"), stdoutBytes });
    });
  });
  return { child, out: () => Buffer.concat(out).toString("utf8"), err: () => Buffer.concat(err).toString("latin1"), done };
}

/** Poll `probe` every `everyMs` until it returns true; false after `timeoutMs`. */
export async function until(probe: () => Promise<boolean> | boolean, timeoutMs = 20000, everyMs = 5): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** PACSIFIER's folder-name cleaning (seed-behaviour §3.4): NFD, non-ASCII dropped, runs of non-alphanumerics → `_`. */
export function pacsifierClean(v: string): string {
  return v.normalize("NFD").replace(/[^\x00-\x7f]/g, "").replace(/[^A-Za-z0-9]+/g, "_");
}

/** PIDs of processes whose command line contains `needle` (Linux /proc). */
export async function pidsByCmdline(needle: string): Promise<number[]> {
  const out: number[] = [];
  for (const e of await readdir("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = (await readFile(`/proc/${e}/cmdline`, "latin1")).split("\0").join(" ");
      if (cmd.includes(needle)) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

/** Direct children of `pid` (Linux /proc). */
export async function childPids(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const e of await readdir("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = await readFile(`/proc/${e}/stat`, "latin1");
      // pid (comm) state ppid …; comm may hold spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}
