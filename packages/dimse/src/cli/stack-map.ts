/**
 * Stack traces of a bundled tool name the TypeScript sources. Each tool's
 * bundle (dist/main.bundle.cjs, see scripts/bundle.mjs) starts with this
 * module: frames in the bundle are mapped through its source map, which is
 * read and parsed the first time a stack is formatted. A bundle loaded later
 * (a `*.lazy.ts` bundle) adds its own map beside the first. Node's own
 * `--enable-source-maps` parses every map at load, which costs a tool more
 * start-up time than the rest of its loading.
 */
import { readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

type FrameMapper = (f: NodeJS.CallSite) => string | undefined;

/** The mappers of every bundle loaded, shared by their copies of this module. */
const MAPPERS = Symbol.for("dicom-pipes.bundle-stack-maps");

export function mapBundleStacks(bundleUrl: string): void {
  const bundlePath = fileURLToPath(bundleUrl);
  let map: SourceMap | null | undefined;
  const load = (): SourceMap | null => {
    if (map === undefined) {
      try {
        map = new SourceMap(JSON.parse(readFileSync(`${bundlePath}.map`, "utf8")));
      } catch {
        map = null;
      }
    }
    return map;
  };
  const frame: FrameMapper = (f) => {
    const file = f.getFileName();
    const line = f.getLineNumber();
    const column = f.getColumnNumber();
    if ((file !== bundleUrl && file !== bundlePath) || line === null || column === null)
      return undefined;
    const text = String(f);
    const e = load()?.findEntry(line - 1, column - 1);
    if (!e || !("originalSource" in e)) return text;
    const source = e.originalSource.startsWith("file:")
      ? fileURLToPath(e.originalSource)
      : resolve(dirname(bundlePath), e.originalSource);
    return text.replace(
      `${file}:${line}:${column}`,
      `${source}:${e.originalLine + 1}:${e.originalColumn + 1}`,
    );
  };
  const registry = globalThis as { [MAPPERS]?: FrameMapper[] };
  if (registry[MAPPERS]) {
    registry[MAPPERS].push(frame);
    return;
  }
  const mappers = (registry[MAPPERS] = [frame]);
  const mapped = (f: NodeJS.CallSite): string => {
    for (const m of mappers) {
      const text = m(f);
      if (text !== undefined) return text;
    }
    return String(f);
  };
  Error.prepareStackTrace = (err: Error, frames: NodeJS.CallSite[]) => {
    let head: string;
    try {
      head = Error.prototype.toString.call(err);
    } catch {
      head = "Error";
    }
    return [head, ...frames.map((f) => `    at ${mapped(f)}`)].join("\n");
  };
}
