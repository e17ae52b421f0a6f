/** Atomic file writes: a temporary file beside the target, fsync (unless declined), then rename, so a reader sees the old file or the whole new one. */
import { randomBytes } from "node:crypto";
import { closeSync, constants, openSync, unlinkSync, writevSync } from "node:fs";
import { link, open, rename, unlink, type FileHandle } from "node:fs/promises";
import { threadId } from "node:worker_threads";
import { makeDirs, makeDirsSync } from "./dirs.js";
import { basename, dirname, join } from "node:path";

export interface AtomicWriteOptions {
  /** File mode of the new file (default 0o644, less the umask). */
  mode?: number;
  /** Replace an existing target (default true); false fails with EEXIST instead. */
  overwrite?: boolean;
  /** fsync the data before the rename (default true): durable on return, not only atomic. */
  fsync?: boolean;
}

/** Write `data` (or its parts, in order) to `path` atomically, creating missing folders. */
export async function writeFileAtomic(
  path: string,
  data: Buffer | string | readonly Buffer[],
  o: AtomicWriteOptions = {},
): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;
  let fh: FileHandle;
  try {
    fh = await open(tmp, flags, o.mode ?? 0o644);
  } catch (e) {
    // The folder is made only when missing: no mkdir and stat round trips for every file of a folder.
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    await makeDirs(dir);
    fh = await open(tmp, flags, o.mode ?? 0o644);
  }
  try {
    if (Array.isArray(data)) {
      let left = data.reduce((n, b) => n + b.length, 0);
      const parts = data.filter((b) => b.length);
      while (left > 0) {
        const { bytesWritten } = await fh.writev(parts);
        left -= bytesWritten;
        let skip = bytesWritten;
        while (parts.length && skip >= parts[0]!.length) skip -= parts.shift()!.length;
        if (skip) parts[0] = parts[0]!.subarray(skip);
      }
    } else await fh.writeFile(data as Buffer | string);
    if (o.fsync !== false) await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fh.close();
  try {
    if (o.overwrite === false) {
      // link() fails if the target exists: no window in which another file could be replaced.
      await link(tmp, path);
      await unlink(tmp);
    } else await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/** A temporary file written by `writeTemp`, not yet renamed into place. */
export interface TempFile {
  /** Its path, beside the target. */
  tmp: string;
  /** Its descriptor, still open (`keepOpen`): the caller fsyncs and closes it. */
  fd?: number;
  /** Folders created for it, parents first (their entries are made durable by fsyncing their parents). */
  made: string[];
}

let temps = 0;

/**
 * The first half of an atomic write: `data` written to a new temporary file beside `path`,
 * named by process, thread and a counter (`O_EXCL`: never another file), its folders created
 * when missing. Synchronous: a batch tool writing thousands of files of a few hundred KB spends
 * less in the kernel's copy than in handing each system call to the thread pool and back (a
 * batch tool's `-j` runs these in worker threads). The caller renames `tmp` to `path` when it is
 * complete (after an fsync for durability), or removes it.
 */
export function writeTemp(
  path: string,
  data: readonly Buffer[],
  o: { mode?: number; keepOpen?: boolean } = {},
): TempFile {
  const dir = dirname(path);
  const made: string[] = [];
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;
  let fd = -1;
  let tmp = "";
  for (let attempt = 0; fd < 0; attempt++) {
    tmp = join(dir, `.${basename(path)}.${process.pid}-${threadId}-${++temps}.tmp`);
    try {
      fd = openSync(tmp, flags, o.mode ?? 0o644);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" && attempt === 0) makeDirsSync(dir, made);
      else if (code !== "EEXIST" || attempt > 8) throw e;
    }
  }
  try {
    const parts = data.filter((b) => b.length);
    while (parts.length) {
      let n = writevSync(fd, parts);
      while (parts.length && n >= parts[0]!.length) n -= parts.shift()!.length;
      if (n) parts[0] = parts[0]!.subarray(n);
    }
    if (o.keepOpen) return { tmp, fd, made };
    closeSync(fd);
    fd = -1;
    return { tmp, made };
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    throw e;
  }
}
