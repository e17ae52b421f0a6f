/**
 * The files to send: arguments (files, and directories with +sd/+r/+sp),
 * or paths on stdin / --input (plain lines, or NDJSON records with "path").
 */
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { InputError, splitLines } from "@dicom-pipes/dimse/io";
export { wildcard } from "@dicom-pipes/dimse/io";
import type { CliLogger } from "@dicom-pipes/dimse/cli";

export interface ScanOptions {
  scanDirectories: boolean;
  recurse: boolean;
  pattern?: RegExp;
  log: CliLogger;
}

async function* scanDir(dir: string, o: ScanOptions): AsyncGenerator<string> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (o.recurse) yield* scanDir(p, o);
    } else if (e.isFile() || e.isSymbolicLink()) {
      if (!o.pattern || o.pattern.test(e.name)) yield p;
    }
  }
}

/** Files named by arguments, expanding directories as DCMTK storescu does. */
export async function* argumentFiles(args: string[], o: ScanOptions): AsyncGenerator<string> {
  for (const a of args) {
    let s;
    try {
      s = await stat(a);
    } catch {
      o.log.error(`cannot access file: ${a}`);
      throw new InputError(a, undefined, "no such file or directory");
    }
    if (s.isDirectory()) {
      if (!o.scanDirectories) {
        o.log.warn(`ignoring directory because option --scan-directories is not set: ${a}`);
        continue;
      }
      yield* scanDir(a, o);
    } else yield a;
  }
}

/** Paths from a stream: one per line, or NDJSON records with a "path" field. */
export async function* streamPaths(
  stream: Readable,
  name: string,
  cwd: string,
): AsyncGenerator<string> {
  let line = 0;
  const handle = (text: string): string | undefined => {
    line++;
    const t = text.replace(/\r$/, "");
    if (t.trim() === "") return undefined;
    if (t.trimStart().startsWith("{")) {
      let rec: unknown;
      try {
        rec = JSON.parse(t);
      } catch (e) {
        throw new InputError(name, line, `invalid JSON: ${(e as Error).message}`);
      }
      const p = (rec as { path?: unknown }).path;
      if (typeof p !== "string" || p === "")
        throw new InputError(name, line, `expected a record with a "path" field`);
      return resolve(cwd, p);
    }
    return resolve(cwd, t);
  };
  for await (const { lines } of splitLines(stream, { name })) {
    for (const l of lines) {
      const p = handle(l);
      if (p) yield p;
    }
  }
}

export function openPaths(path: string, stdin: Readable): Readable {
  return path === "-" ? stdin : createReadStream(path);
}
