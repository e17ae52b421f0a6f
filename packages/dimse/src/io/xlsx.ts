/**
 * Query tables from spreadsheets: the first sheet of an `.xlsx` workbook
 * (or the one named by `--sheet`), its first row the header, read through
 * read-excel-file (loaded only when a workbook is read). A workbook is a
 * zip archive, read whole: memory grows with the sheet, not with the run.
 *
 * Cells become the text a CSV export would hold, without the spreadsheet's
 * display formats: numbers as JavaScript writes them (`12345`, not
 * `12,345` or `1.2345E+4`), date cells as DICOM dates (`YYYYMMDD`, with
 * `HHMMSS` when the cell has a time of day), a time-only cell as a DICOM
 * time, booleans as `TRUE`/`FALSE`, empty cells as empty text. An ID that
 * Excel turned into a number has lost its leading zeros: `--normalize
 * --mrn-width N` puts them back.
 */
import type { FlatRecord } from "../records/flat.js";
import { InputError, type InputRecord } from "./input.js";

const two = (n: number) => String(n).padStart(2, "0");

/** A date cell (read-excel-file gives UTC dates) as a DICOM DA, DT or TM value. */
export function dateCell(d: Date): string {
  const time = `${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}`;
  // Excel's time-only cells are times of day 0 (1899-12-30, or 1900-01-00 in 1900 date system).
  if (
    d.getUTCFullYear() < 1900 ||
    (d.getUTCFullYear() === 1900 && d.getUTCMonth() === 0 && d.getUTCDate() === 0)
  )
    return time;
  const date = `${d.getUTCFullYear()}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}`;
  return time === "000000" ? date : `${date}${time}`;
}

function cellText(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (v instanceof Date) return dateCell(v);
  if (typeof v === "boolean") return v ? "TRUE" : "FALSE";
  return String(v);
}

/** Is this the start of a zip archive (an `.xlsx` workbook)? */
export function isZip(head: Buffer): boolean {
  return head.length >= 4 && head.readUInt32LE(0) === 0x04034b50;
}

/** The rows of one sheet as records keyed by its header row. */
export async function* readXlsx(
  bytes: Buffer,
  o: { name: string; sheet?: string; onHeader?: (columns: string[]) => void },
): AsyncGenerator<InputRecord> {
  const { readSheet } = await import("read-excel-file/node");
  let rows: unknown[][];
  try {
    rows = (await readSheet(bytes, o.sheet ?? 1)) as unknown[][];
  } catch (e) {
    const err = e as Error;
    if (err.name === "SheetNotFoundError")
      throw new InputError(
        o.name,
        undefined,
        `--sheet: ${err.message.replace(/^Sheet not found: [^.]*\. /, `no sheet "${o.sheet}"; `).replace("Available sheets", "the workbook has")}`,
      );
    throw new InputError(o.name, undefined, `not a readable .xlsx workbook: ${err.message}`);
  }
  let header: string[] | undefined;
  for (let i = 0; i < rows.length; i++) {
    const cells = rows[i]!.map(cellText);
    if (cells.every((c) => c.trim() === "")) continue;
    if (!header) {
      header = cells.map((c) => c.trim());
      while (header.length && header[header.length - 1] === "") header.pop();
      const blank = header.indexOf("");
      if (blank >= 0)
        throw new InputError(o.name, i + 1, `column ${blank + 1} of the header row has no name`);
      o.onHeader?.(header);
      continue;
    }
    const extra = cells.slice(header.length).findIndex((c) => c.trim() !== "");
    if (extra >= 0)
      throw new InputError(
        o.name,
        i + 1,
        `a value in column ${header.length + extra + 1}, which has no header`,
      );
    const record: FlatRecord = {};
    header.forEach((h, j) => {
      record[h] = cells[j] ?? "";
    });
    yield { record, line: i + 1, source: o.name };
  }
}
