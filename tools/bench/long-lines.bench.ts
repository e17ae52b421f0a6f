/**
 * Input lines of 6, 12, 25 and 50 MB (one NDJSON record with a long
 * StudyDescription, then a short one): wall time and peak RSS of
 * inst-count reading them, and of findscu-ts reading the first as its
 * first query (then failing to associate, exit 61: nothing listens on the
 * port). Reading is linear when the time doubles with the size.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { node, row, timed } from "./common.js";

const SIZES_MB = (process.env.BENCH_LINE_MB ?? "6,12,25,50").split(",").map(Number);
const work = await mkdtemp(join(tmpdir(), "bench-lines-"));
try {
  const widths = [10, 22, 22];
  console.log(row(["line", "inst-count s / MB RSS", "findscu-ts s / MB RSS"], widths));
  for (const mb of SIZES_MB) {
    const path = join(work, `line-${mb}.ndjson`);
    const short = '{"StudyDate":"20240101","InstitutionName":"A","StudyInstanceUID":"1.2.3"}\n';
    await writeFile(
      path,
      `{"StudyDate":"20240101","InstitutionName":"B","StudyInstanceUID":"1.2.4","StudyDescription":"${"x".repeat(mb * 1_000_000)}"}\n` +
        short,
    );
    const [cmd, args] = node("inst-count");
    const a = await timed(cmd, [...args, "-t", "all", path]);
    const [fcmd, fargs] = node("findscu-ts");
    const b = await timed(fcmd, [
      ...fargs,
      "-S",
      "127.0.0.1",
      "9",
      "--queries",
      path,
      "-k",
      "StudyInstanceUID",
    ]);
    console.log(
      row(
        [
          `${mb} MB`,
          `${a.wall.toFixed(2)} / ${a.rssMb.toFixed(0)} (exit ${a.code})`,
          `${b.wall.toFixed(2)} / ${b.rssMb.toFixed(0)} (exit ${b.code})`,
        ],
        widths,
      ),
    );
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
