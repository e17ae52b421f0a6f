/**
 * The files under input operands, streamed: a file operand is itself, a
 * folder operand its regular files, depth first in name order (the same
 * order on every run and machine). One directory is listed at a time and
 * its files are yielded before the next is read, so memory is bounded by
 * the largest directory and the folders still to visit, not by the number
 * of files.
 */
import { readdir, stat } from "node:fs/promises";
import { basename, join, relative } from "node:path";

export interface WalkedFile {
  /** The path to open. */
  path: string;
  /** Path relative to the operand (the base name for a file operand). */
  rel: string;
  /** The operand it came from. */
  root: string;
}

export interface WalkOptions {
  /**
   * Called for an operand, folder or link that cannot be read; the walk
   * goes on. Without it, the error is thrown (a missing operand: ENOENT).
   */
  onError?: (path: string, error: NodeJS.ErrnoException) => void;
  /** Skip names starting with "." (writers' temporary files, journals, `.git`); default true. */
  skipHidden?: boolean;
}

const byName = (a: { name: string }, b: { name: string }) =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

/**
 * Every regular file under each operand. Symbolic links to files are
 * followed; links to folders are not (no cycles).
 */
export async function* walkFiles(
  operands: Iterable<string>,
  o: WalkOptions = {},
): AsyncGenerator<WalkedFile> {
  const skipHidden = o.skipHidden ?? true;
  const fail = (path: string, e: unknown) => {
    if (!o.onError) throw e;
    o.onError(path, e as NodeJS.ErrnoException);
  };
  for (const root of operands) {
    let st;
    try {
      st = await stat(root);
    } catch (e) {
      fail(root, e);
      continue;
    }
    if (!st.isDirectory()) {
      if (st.isFile()) yield { path: root, rel: basename(root), root };
      continue;
    }
    // An explicit stack rather than recursive generators: each file passes through one generator only.
    const pending = [root];
    while (pending.length) {
      const dir = pending.pop()!;
      let entries;
      try {
        entries = (await readdir(dir, { withFileTypes: true })).sort(byName);
      } catch (e) {
        fail(dir, e);
        continue;
      }
      const subdirs: string[] = [];
      for (const e of entries) {
        if (skipHidden && e.name.startsWith(".")) continue;
        const p = join(dir, e.name);
        if (e.isDirectory()) subdirs.push(p);
        else if (e.isFile()) yield { path: p, rel: relative(root, p), root };
        else if (e.isSymbolicLink()) {
          const target = await stat(p).catch((err: unknown) => fail(p, err));
          if (target?.isFile()) yield { path: p, rel: relative(root, p), root };
        }
      }
      for (let i = subdirs.length - 1; i >= 0; i--) pending.push(subdirs[i]!);
    }
  }
}
