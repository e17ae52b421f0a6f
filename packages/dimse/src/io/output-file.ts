/**
 * `-o FILE` for data output: written to a temporary file beside the target
 * and renamed into place only when complete, so a reader never sees half a
 * file and a failed run leaves an earlier file untouched.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { once } from "node:events";

export interface OutputFile {
  stream: WriteStream;
  /** Flush, fsync-free close, and rename into place. */
  commit(): Promise<void>;
  /** Close and remove the temporary file. */
  abort(): Promise<void>;
}

export async function openOutputFile(path: string): Promise<OutputFile> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const stream = createWriteStream(tmp, { flags: "wx" });
  await Promise.race([
    once(stream, "open"),
    once(stream, "error").then(([e]) => Promise.reject(e as Error)),
  ]);
  const close = async () => {
    if (stream.closed) return;
    stream.end();
    await once(stream, "close");
  };
  return {
    stream,
    async commit() {
      await close();
      await rename(tmp, path);
    },
    async abort() {
      stream.destroy();
      await rm(tmp, { force: true });
    },
  };
}
