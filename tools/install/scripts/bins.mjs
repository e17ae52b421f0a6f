// The bins the tool packages declare (packages/*/package.json "bin"), shared
// by the generator and the installer.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The checkout: tools/install/scripts/../../.. */
export const ROOT = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
/** Where the generator writes, laid out as under a prefix (share/man/man1, …). */
export const GENERATED = join(ROOT, "tools", "install", "dist");

/**
 * Every bin: its name, the package folder, the bin file (absolute) and the
 * module it runs (`dist/main.js`, present once the tools are built).
 */
export function bins() {
  const out = [];
  const packages = join(ROOT, "packages");
  for (const dir of readdirSync(packages).sort()) {
    const file = join(packages, dir, "package.json");
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, "utf8"));
    for (const [name, rel] of Object.entries(pkg.bin ?? {}))
      out.push({
        name,
        dir: join(packages, dir),
        bin: join(packages, dir, rel),
        built: join(packages, dir, "dist", "main.js"),
        version: pkg.version,
      });
  }
  return out;
}

/** Where each generated file goes, relative to the prefix (and to GENERATED). */
export function generatedFiles(name) {
  return [
    join("share", "man", "man1", `${name}.1`),
    join("share", "bash-completion", "completions", name),
    join("share", "zsh", "site-functions", `_${name}`),
  ];
}
