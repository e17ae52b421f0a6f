// Shared by the generators of tools/ps315: the pinned input checked, the generated file written
// (or compared with --check).
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";

/** Print `E: <tool>: msg` and exit 1. */
export function fail(tool, msg) {
  process.stderr.write(`E: ${tool}: ${msg}\n`);
  process.exit(1);
}

/**
 * The input file, refused unless it is the pinned one: its SHA-256, its edition, the SHA-256 of
 * its rows as canonical JSON (sorted keys, no spaces; the file's own `content_sha256`) and the
 * number of rows.
 */
export function readPinned(tool, input, pin) {
  const bytes = readFileSync(input);
  const fileSha = createHash("sha256").update(bytes).digest("hex");
  if (fileSha !== pin.fileSha256)
    fail(
      tool,
      `${input}: sha256 ${fileSha}, expected ${pin.fileSha256} (another edition? update PIN deliberately)`,
    );
  const doc = JSON.parse(bytes.toString("utf8"));
  if (doc.edition !== pin.edition) fail(tool, `edition ${doc.edition}, expected ${pin.edition}`);
  const canon = JSON.stringify(doc.rows, (_k, v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, v[k]]),
        )
      : v,
  );
  const contentSha = createHash("sha256").update(canon).digest("hex");
  if (contentSha !== doc.content_sha256 || contentSha !== pin.contentSha256)
    fail(tool, `rows hash ${contentSha} does not match content_sha256`);
  if (doc.rows.length !== pin.rows) fail(tool, `${doc.rows.length} rows, expected ${pin.rows}`);
  return { doc, fileSha };
}

/** Write `out` to `target`, or with `--check` fail when the committed file differs. */
export function writeOrCheck(tool, target, out, flag, summary) {
  if (flag === "--check") {
    if (readFileSync(target, "utf8") !== out)
      fail(tool, `${target} is not what the generator writes; run it again`);
    process.stdout.write(`${target} is up to date (${summary})\n`);
  } else {
    writeFileSync(target, out);
    process.stdout.write(`wrote ${target}: ${summary}\n`);
  }
}
