/**
 * Moving one file without ever losing or duplicating it, and without
 * overwriting unless asked:
 * - same filesystem: link(src, dst) (fails if dst exists: no clobbering
 *   race), fsync dst's folder, unlink(src);
 * - across filesystems (EXDEV) or where hard links are not supported:
 *   copy to a temporary file beside dst, fsync it, link (or rename after an
 *   existence check) to dst, fsync the folder, then unlink src.
 * An interrupted run leaves src in place (and perhaps an identical dst):
 * rerunning finds dst identical to src and only removes src.
 */

import { makeDirs } from "@dicom-pipes/dimse/io";
import { copyFile, link, open, rename, stat, unlink, utimes, lstat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export type Action = "moved" | "replaced" | "completed";

export class ConflictError extends Error {}

async function fsyncPath(path: string): Promise<void> {
  let fh;
  try {
    fh = await open(path, "r");
    await fh.sync();
  } catch {
    // Folders cannot be opened for fsync on some platforms; best effort.
  } finally {
    await fh?.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw e;
  }
}

/** Byte-for-byte comparison of two files. */
export async function sameContent(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([stat(a), stat(b)]);
  if (sa.size !== sb.size) return false;
  const [fa, fb] = await Promise.all([open(a, "r"), open(b, "r")]);
  try {
    const size = 1 << 16;
    const ba = Buffer.alloc(size);
    const bb = Buffer.alloc(size);
    for (let pos = 0; pos < sa.size; pos += size) {
      const [ra, rb] = await Promise.all([fa.read(ba, 0, size, pos), fb.read(bb, 0, size, pos)]);
      if (
        ra.bytesRead !== rb.bytesRead ||
        !ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead))
      )
        return false;
    }
    return true;
  } finally {
    await Promise.all([fa.close(), fb.close()]);
  }
}

/** Move src to dst; returns what was done. Throws ConflictError when dst exists with other content and !force. */
export async function moveFile(src: string, dst: string, force: boolean): Promise<Action> {
  const dir = dirname(dst);
  await makeDirs(dir);
  let replaced = false;
  if (await exists(dst)) {
    if (await sameContent(src, dst)) {
      // Left by an interrupted run (copied, source not yet removed).
      await unlink(src);
      await fsyncPath(dirname(src));
      return "completed";
    }
    if (!force)
      throw new ConflictError(
        "destination exists with different content (use --force to overwrite)",
      );
    replaced = true;
  }
  if (!replaced) {
    try {
      await link(src, dst);
      await fsyncPath(dir);
      await unlink(src);
      await fsyncPath(dirname(src));
      return "moved";
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EEXIST")
        throw new ConflictError("destination appeared while moving (use --force to overwrite)");
      if (
        code !== "EXDEV" &&
        code !== "EPERM" &&
        code !== "ENOTSUP" &&
        code !== "EOPNOTSUPP" &&
        code !== "EMLINK"
      )
        throw e;
    }
  } else {
    try {
      await rename(src, dst); // same filesystem: atomic replacement
      await fsyncPath(dir);
      return "replaced";
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EXDEV") throw e;
    }
  }
  // Copy across filesystems.
  const tmp = join(dir, `.${basename(dst)}.dumps-move.tmp`);
  await copyFile(src, tmp); // a stale temporary file of an interrupted run is overwritten
  const st = await stat(src);
  await utimes(tmp, st.atime, st.mtime);
  await fsyncPath(tmp);
  if (replaced) await rename(tmp, dst);
  else {
    try {
      await link(tmp, dst);
      await unlink(tmp);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EEXIST") {
        await unlink(tmp);
        throw new ConflictError("destination appeared while moving (use --force to overwrite)");
      }
      if (await exists(dst)) {
        await unlink(tmp);
        throw new ConflictError(
          "destination exists with different content (use --force to overwrite)",
        );
      }
      await rename(tmp, dst);
    }
  }
  await fsyncPath(dir);
  await unlink(src);
  await fsyncPath(dirname(src));
  return replaced ? "replaced" : "moved";
}
