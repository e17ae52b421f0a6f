/**
 * `readPart10Header` with asynchronous reads: many files can be read at
 * once (a bounded pool over a folder walk), which pays off on network and
 * cold disks where each read waits on the device.
 */
import { open } from "node:fs/promises";
import { DicomParseError } from "./dataset.js";
import { NotDicomError, parsePart10Header, type Part10Header } from "./part10.js";

export async function readPart10HeaderAsync(path: string, stopAtTag = 0x00080019): Promise<Part10Header & { size: number }> {
  const fh = await open(path, "r");
  try {
    const { size } = await fh.stat();
    let want = Math.min(size, 16384);
    for (;;) {
      const buf = Buffer.allocUnsafe(want);
      const { bytesRead } = await fh.read(buf, 0, want, 0);
      try {
        return { ...parsePart10Header(buf.subarray(0, bytesRead), stopAtTag), size };
      } catch (e) {
        if (e instanceof RangeError && want < size) {
          want = Math.min(size, want * 8);
          continue;
        }
        if (e instanceof RangeError) throw new NotDicomError("not a DICOM file (truncated)");
        if (e instanceof DicomParseError) throw new NotDicomError(`not a DICOM file (${e.message})`);
        throw e;
      }
    }
  } finally {
    await fh.close();
  }
}
