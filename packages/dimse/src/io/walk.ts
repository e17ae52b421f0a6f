/**
 * Regular files under directories, streamed: each directory is read with
 * `opendir` (entries arrive in batches, never as one big listing), depth
 * first, so memory stays bounded by the depth of the tree, not by the
 * number of files.
 */
import { opendir, stat } from "node:fs/promises";
import { join } from "node:path";

export interface WalkOptions {
  /** Called for a directory or file that cannot be read; the walk goes on. */
  onError?: (path: string, error: NodeJS.ErrnoException) => void;
  /** Skip names starting with "." (temporary files of writers, `.git`…); default true. */
  skipHidden?: boolean;
}

/**
 * Every regular file under each root (a root that is a file is yielded
 * itself). Symbolic links to files are followed; links to directories are
 * not (no cycles). Order is the file system's.
 */
export async function* walkFiles(roots: Iterable<string>, o: WalkOptions = {}): AsyncGenerator<string> {
  for (const root of roots) {
    let st;
    try {
      st = await stat(root);
    } catch (e) {
      o.onError?.(root, e as NodeJS.ErrnoException);
      continue;
    }
    if (st.isDirectory()) yield* walkDirectory(root, o);
    else if (st.isFile()) yield root;
  }
}

async function* walkDirectory(dir: string, o: WalkOptions): AsyncGenerator<string> {
  let handle;
  try {
    handle = await opendir(dir, { bufferSize: 256 });
  } catch (e) {
    o.onError?.(dir, e as NodeJS.ErrnoException);
    return;
  }
  const skipHidden = o.skipHidden ?? true;
  // Subdirectories are walked after this directory's files, so one handle is open per level at most.
  const subdirs: string[] = [];
  try {
    for await (const e of handle) {
      if (skipHidden && e.name.startsWith(".")) continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) subdirs.push(e.name);
      else if (e.isFile()) yield p;
      else if (e.isSymbolicLink()) {
        const st = await stat(p).catch((err: NodeJS.ErrnoException) => {
          o.onError?.(p, err);
          return undefined;
        });
        if (st?.isFile()) yield p;
      }
    }
  } catch (e) {
    o.onError?.(dir, e as NodeJS.ErrnoException);
  }
  for (const name of subdirs) yield* walkDirectory(join(dir, name), o);
}
