/**
 * Regular files under directories, streamed: one directory is listed at a
 * time and its files are yielded before the next is read, so memory is
 * bounded by the largest directory and the folders still to visit, not by
 * the number of files.
 */
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";

export interface WalkOptions {
  /** Called for a directory or file that cannot be read; the walk goes on. */
  onError?: (path: string, error: NodeJS.ErrnoException) => void;
  /** Skip names starting with "." (temporary files of writers, `.git`…); default true. */
  skipHidden?: boolean;
}

/**
 * Every regular file under each root (a root that is a file is yielded
 * itself), depth first. Symbolic links to files are followed; links to
 * directories are not (no cycles). Order within a directory is the file
 * system's.
 */
export async function* walkFiles(roots: Iterable<string>, o: WalkOptions = {}): AsyncGenerator<string> {
  const skipHidden = o.skipHidden ?? true;
  for (const root of roots) {
    let st;
    try {
      st = await stat(root);
    } catch (e) {
      o.onError?.(root, e as NodeJS.ErrnoException);
      continue;
    }
    if (!st.isDirectory()) {
      if (st.isFile()) yield root;
      continue;
    }
    // An explicit stack rather than recursive generators: each file passes through one generator only.
    const pending = [root];
    while (pending.length) {
      const dir = pending.pop()!;
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        o.onError?.(dir, e as NodeJS.ErrnoException);
        continue;
      }
      const subdirs: string[] = [];
      for (const e of entries) {
        if (skipHidden && e.name.startsWith(".")) continue;
        const p = join(dir, e.name);
        if (e.isDirectory()) subdirs.push(p);
        else if (e.isFile()) yield p;
        else if (e.isSymbolicLink()) {
          const target = await stat(p).catch((err: NodeJS.ErrnoException) => {
            o.onError?.(p, err);
            return undefined;
          });
          if (target?.isFile()) yield p;
        }
      }
      for (let i = subdirs.length - 1; i >= 0; i--) pending.push(subdirs[i]!);
    }
  }
}
