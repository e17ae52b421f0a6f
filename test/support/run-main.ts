/** Run a tool's `main()` in process with captured streams (stdin closed). */
import { PassThrough } from "node:stream";
import type { Io } from "@dicom-pipes/dimse/io";

export interface MainResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runMain(
  main: (argv: string[], io: Io) => Promise<number>,
  argv: string[],
): Promise<MainResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (c: Buffer) => out.push(c));
  stderr.on("data", (c: Buffer) => err.push(c));
  const stdin = new PassThrough();
  stdin.end();
  const code = await main(argv, { stdin, stdout, stderr, env: {} });
  return {
    code,
    stdout: Buffer.concat(out).toString("utf8"),
    stderr: Buffer.concat(err).toString("utf8"),
  };
}
