/**
 * Helpers for the retrieve (movescu-ts / getscu-ts) suites: the archive's
 * instances by SOP Instance UID (read with the independent Part 10 reader
 * of files.ts), PACSIFIER's name cleaning, processes by command line.
 * Node built-ins only.
 */
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { filesUnder, readMeta, type MetaInfo } from "./files.js";

export function sha1(b: Buffer): string {
  return createHash("sha1").update(b).digest("hex");
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
  for (const rel of await filesUnder(dir, { hidden: true })) {
    const path = join(dir, rel);
    const buf = await readFile(path);
    let m: MetaInfo;
    try {
      m = readMeta(buf);
    } catch {
      continue;
    }
    map.set(m.sopInstanceUid, {
      path,
      sopInstanceUid: m.sopInstanceUid,
      sopClassUid: m.sopClassUid,
      transferSyntax: m.transferSyntax,
      datasetSha1: sha1(buf.subarray(m.datasetOffset)),
      size: buf.length,
    });
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
export async function checkReceived(
  root: string,
  files: string[],
  source: Map<string, SourceInstance>,
): Promise<ReceivedCheck> {
  const seen = new Map<string, number>();
  const differing: string[] = [];
  const unknown: string[] = [];
  for (const rel of files) {
    const buf = await readFile(join(root, rel));
    const m = readMeta(buf);
    seen.set(m.sopInstanceUid, (seen.get(m.sopInstanceUid) ?? 0) + 1);
    const src = source.get(m.sopInstanceUid);
    if (!src) unknown.push(rel);
    else if (
      sha1(buf.subarray(m.datasetOffset)) !== src.datasetSha1 ||
      m.sopClassUid !== src.sopClassUid
    )
      differing.push(rel);
  }
  return {
    uids: [...seen.keys()].sort(),
    differing,
    unknown,
    duplicates: [...seen].filter(([, n]) => n > 1).map(([u]) => u),
  };
}

/** PACSIFIER's folder-name cleaning (seed-behaviour §3.4): NFD, non-ASCII dropped, runs of non-alphanumerics → `_`. */
export function pacsifierClean(v: string): string {
  return v
    .normalize("NFD")
    .replace(/[^\x00-\x7f]/g, "")
    .replace(/[^A-Za-z0-9]+/g, "_");
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

/** An archive instance with the keys filter tables name (resolve tests). */
export interface KeyedInstance {
  sop: string;
  patient: string;
  study: string;
  series: string;
  date: string;
  accession: string;
  seriesNumber: string;
}

/** A patient with two studies on different dates (the over-retrieval case of a PatientID + StudyDate row). */
export function patientWithTwoDates(insts: KeyedInstance[]): {
  patient: string;
  date: string;
  study: string;
  other: string;
} {
  for (const p of new Set(insts.map((i) => i.patient))) {
    const studies = [...new Set(insts.filter((i) => i.patient === p).map((i) => i.study))];
    const dates = studies.map((s) => insts.find((i) => i.study === s)!.date);
    if (studies.length === 2 && dates[0] !== dates[1])
      return { patient: p, date: dates[0]!, study: studies[0]!, other: studies[1]! };
  }
  throw new Error("the archive has no patient with two studies on different dates");
}
