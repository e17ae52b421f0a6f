/**
 * Output folders: creating a path of folders, and telling whether a folder
 * can really be written to. Node's `mkdir(…, { recursive: true })` loops
 * forever where the kernel answers ENOENT for a folder whose parent exists
 * (inside `/proc/<pid>`): these stop at the first failure instead.
 */
import { mkdirSync, mkdtempSync, rmdirSync, statSync } from "node:fs";
import { mkdir, stat } from "node:fs/promises";
import { dirname, join } from "node:path";

function notDirectory(dir: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}'`), {
    code: "ENOTDIR",
    path: dir,
  });
}

/** `mkdir -p`: create `dir` and its missing parents; an existing directory is fine. */
export async function makeDirs(dir: string): Promise<void> {
  const once = async (): Promise<string | undefined> => {
    try {
      await mkdir(dir);
      return undefined;
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === "EEXIST") {
        if ((await stat(dir)).isDirectory()) return undefined;
        throw notDirectory(dir);
      }
      if (err.code !== "ENOENT") throw err;
      return err.code;
    }
  };
  if ((await once()) === undefined) return;
  const parent = dirname(dir);
  if (parent === dir)
    throw Object.assign(new Error(`ENOENT: no such file or directory, mkdir '${dir}'`), {
      code: "ENOENT",
      path: dir,
    });
  await makeDirs(parent);
  // The parent exists now: a second ENOENT is final.
  if ((await once()) !== undefined)
    throw Object.assign(new Error(`ENOENT: cannot create a directory here, mkdir '${dir}'`), {
      code: "ENOENT",
      path: dir,
    });
}

/** The synchronous `makeDirs`; the folders it creates are added to `made` (parents first). */
export function makeDirsSync(dir: string, made?: string[]): void {
  const once = (): boolean => {
    try {
      mkdirSync(dir);
      made?.push(dir);
      return true;
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === "EEXIST") {
        if (statSync(dir).isDirectory()) return true;
        throw notDirectory(dir);
      }
      if (err.code !== "ENOENT") throw err;
      return false;
    }
  };
  if (once()) return;
  const parent = dirname(dir);
  if (parent === dir)
    throw Object.assign(new Error(`ENOENT: no such file or directory, mkdir '${dir}'`), {
      code: "ENOENT",
      path: dir,
    });
  makeDirsSync(parent, made);
  if (!once())
    throw Object.assign(new Error(`ENOENT: cannot create a directory here, mkdir '${dir}'`), {
      code: "ENOENT",
      path: dir,
    });
}

/**
 * Why `dir` cannot take new files and folders (undefined when it can):
 * missing, not a directory, or creating an entry in it fails (permissions,
 * a read-only filesystem, `/proc`). Tried for real, since `access(2)` says
 * yes to root on read-only or pseudo filesystems.
 */
export function unwritableReason(dir: string): string | undefined {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOTDIR") return "is inside a file, not a directory";
    return code === "ENOENT" ? "does not exist" : `cannot be read (${code})`;
  }
  if (!isDir) return "is not a directory";
  try {
    rmdirSync(mkdtempSync(join(dir, ".dicom-pipes-probe-")));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why: Record<string, string> = {
      ENOENT: "no files can be created in it",
      EACCES: "permission denied",
      EPERM: "operation not permitted",
      EROFS: "read-only file system",
      ENOSPC: "no space left on device",
      EDQUOT: "disk quota exceeded",
    };
    return `is not writable (${why[err.code ?? ""] ?? err.code ?? err.message})`;
  }
  return undefined;
}
