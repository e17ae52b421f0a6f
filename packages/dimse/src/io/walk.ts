/** Walking input operands: files as given, folders recursively in name order, symbolic links to folders not followed. */
import { readdir, stat } from "node:fs/promises";
import { join, relative } from "node:path";

export interface WalkedFile {
  /** The path to open. */
  path: string;
  /** Path relative to the operand (the base name for a file operand). */
  rel: string;
  /** The operand it came from. */
  root: string;
}

/** Every regular file under a folder, depth first in name order (deterministic). */
export async function* walkFolder(root: string, dir = root): AsyncGenerator<WalkedFile> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walkFolder(root, p);
    else if (e.isFile()) yield { path: p, rel: relative(root, p), root };
  }
}

/** A file operand as itself, a folder operand as its files; throws ENOENT for a missing operand. */
export async function* walkOperand(operand: string): AsyncGenerator<WalkedFile> {
  const st = await stat(operand);
  if (st.isDirectory()) yield* walkFolder(operand);
  else yield { path: operand, rel: operand.split(/[\\/]/).pop() ?? operand, root: operand };
}
