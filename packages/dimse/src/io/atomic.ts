/** Atomic file writes: a temporary file beside the target, fsync (unless declined), then rename, so a reader sees the old file or the whole new one. */
import { randomBytes } from "node:crypto";
import { close, constants, open as openCb, unlink as unlinkCb, writev } from "node:fs";
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
 * when missing. In the thread pool with callbacks (no promise per system call): the calling
 * thread goes on with other work meanwhile. The caller renames `tmp` to `path` when it is
 * complete (after an fsync for durability), or removes it.
 */
export function writeTemp(
  path: string,
  data: readonly Buffer[],
  o: { mode?: number; keepOpen?: boolean } = {},
): Promise<TempFile> {
  const dir = dirname(path);
  const made: string[] = [];
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;
  return new Promise((resolve, reject) => {
    let attempt = 0;
    let tmp = "";
    const failed = (fd: number, e: Error) => close(fd, () => unlinkCb(tmp, () => reject(e)));
    const write = (fd: number, parts: Buffer[]) => {
      if (!parts.length) {
        if (o.keepOpen) return resolve({ tmp, fd, made });
        return close(fd, (e) => (e ? unlinkCb(tmp, () => reject(e)) : resolve({ tmp, made })));
      }
      writev(fd, parts, (e, n) => {
        if (e) return failed(fd, e);
        while (parts.length && n >= parts[0]!.length) n -= parts.shift()!.length;
        if (n) parts[0] = parts[0]!.subarray(n);
        write(fd, parts);
      });
    };
    const attemptOpen = () => {
      tmp = join(dir, `.${basename(path)}.${process.pid}-${threadId}-${++temps}.tmp`);
      openCb(tmp, flags, o.mode ?? 0o644, (e, fd) => {
        if (!e)
          return write(
            fd,
            data.filter((b) => b.length),
          );
        const first = attempt++ === 0;
        try {
          if (e.code === "ENOENT" && first && made.length === 0) makeDirsSync(dir, made);
          else if (e.code !== "EEXIST" || attempt > 8) return reject(e);
        } catch (m) {
          return reject(m);
        }
        attemptOpen();
      });
    };
    attemptOpen();
  });
}
