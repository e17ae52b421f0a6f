/**
 * Glob patterns over relative paths (`sub-*\/ses-*\/*.csv`, `**\/*.json`):
 * `*` and `?` within one path segment, `[...]` classes, `**` any number of
 * segments. The walk only descends into folders a pattern can match, so a
 * large DICOM tree is not read file by file for a three-level pattern.
 */
import { opendir } from "node:fs/promises";
import { join } from "node:path";
import { wildcard } from "@dicom-pipes/dimse/io";

type Segment = RegExp | "**";

export function compileGlob(pattern: string): Segment[] {
  const parts = pattern.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.length === 0) throw new Error(`empty pattern "${pattern}"`);
  for (const p of parts)
    if (p === "..") throw new Error(`pattern "${pattern}" must stay inside the data folder`);
  // Like the shell, * does not match a leading dot.
  return parts.map((p) => (p === "**" ? "**" : wildcard(p, { hideDotFiles: true })));
}

/** Relative paths of regular files under `root` matching any of the patterns, sorted, each once. */
export async function matchFiles(root: string, patterns: Segment[][]): Promise<string[]> {
  const found = new Set<string>();
  async function walk(dir: string, rel: string, states: Array<[Segment[], number]>): Promise<void> {
    let handle;
    try {
      handle = await opendir(dir);
    } catch {
      return;
    }
    const entries: Array<{ name: string; isDir: boolean; isFile: boolean }> = [];
    for await (const e of handle)
      entries.push({ name: e.name, isDir: e.isDirectory(), isFile: e.isFile() });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const next: Array<[Segment[], number]> = [];
      let fileMatch = false;
      for (const [segs, i] of states) expand(segs, i, e.name, next, () => (fileMatch = true));
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isFile && fileMatch) found.add(r);
      if (e.isDir && next.length) await walk(join(dir, e.name), r, next);
    }
  }
  await walk(
    root,
    "",
    patterns.map((p) => [p, 0]),
  );
  return [...found].sort();
}

/** Advance one pattern state over a name: states for the children, and whether the name itself completes the pattern. */
function expand(
  segs: Segment[],
  i: number,
  name: string,
  next: Array<[Segment[], number]>,
  matched: () => void,
): void {
  const s = segs[i];
  if (s === undefined) return;
  if (s === "**") {
    if (name.startsWith(".")) return;
    next.push([segs, i]); // ** keeps matching deeper
    if (i === segs.length - 1) matched(); // a trailing ** matches every file below
    expand(segs, i + 1, name, next, matched); // or matches nothing
    return;
  }
  if (!s.test(name)) return;
  if (i === segs.length - 1) matched();
  else next.push([segs, i + 1]);
}
