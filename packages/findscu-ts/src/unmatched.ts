/**
 * Rows of a query table that matched nothing or failed: a record each on
 * stdout (`query`, the row's values, `status` `no-match` or `failed`)
 * and, with `--unmatched FILE`, the row as read, to fix and run again.
 * A row without a match is not a failure (exit 0); a failed row is.
 */
import type { RecordWriter, UnmatchedRows } from "@dicom-pipes/dimse/io";
import type { Query } from "./queries.js";

export class RowOutcomes {
  constructor(
    private readonly writer: RecordWriter | undefined,
    private readonly unmatched: UnmatchedRows | undefined,
  ) {}

  /** After the row's queries: how many matches it had, and the error when it failed. */
  async after(q: Query, matches: number, failure: string | undefined): Promise<void> {
    if (!q.row || (matches > 0 && failure === undefined)) return;
    this.unmatched?.add(q.row.line, q.row.cells);
    await this.writer?.write({
      query: q.id ?? null,
      ...q.row.values,
      status: failure === undefined ? "no-match" : "failed",
      ...(failure ? { error: failure } : {}),
    });
  }

  /** Write `--unmatched` into place when the batch ran to its end; else leave no trace. */
  async finish(complete: boolean): Promise<void> {
    if (complete) await this.unmatched?.commit();
    else await this.unmatched?.abort();
  }
}
