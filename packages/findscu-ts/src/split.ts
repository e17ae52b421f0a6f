/**
 * `--split-dates`: when the peer caps the number of matches (at
 * `--max-results`, or by answering with a failure that says so), query the
 * two halves of the StudyDate range again, recursively, and output each
 * match once.
 */
import { type Dataset, Tags } from "@dicom-pipes/dimse/dicom";
import { statusClass, type Response } from "@dicom-pipes/dimse/net";
import { dateRange, datasetToFlat, ValueError } from "@dicom-pipes/dimse/records";
import { UsageError } from "@dicom-pipes/dimse/cli";
import type { Query } from "./queries.js";
import type { Association } from "@dicom-pipes/dimse/net";
import type { Finder } from "./find.js";

const DAY = 86400000;

function toDate(s: string): number {
  return Date.UTC(+s.slice(0, 4), +s.slice(4, 6) - 1, +s.slice(6, 8));
}

function fromDate(t: number): string {
  const d = new Date(t);
  return `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, "0")}${String(d.getUTCDate()).padStart(2, "0")}`;
}

function today(): string {
  return fromDate(Date.now() - (Date.now() % DAY));
}

/** Does a final response say the peer refused because of too many matches? */
export function capStatus(r: Response | undefined): boolean {
  if (!r || statusClass(r.status) !== "Failure") return false;
  const comment = r.command.errorComment ?? "";
  return (
    r.status === 0xa700 ||
    r.status === 0xa701 ||
    /too many|limit|exceed|maximum|max(imum)? (number|results)/i.test(comment)
  );
}

/** The identifying key of a match at its level, for de-duplication. */
function matchKey(ds: Dataset): string {
  for (const t of [Tags.SOPInstanceUID, Tags.SeriesInstanceUID, Tags.StudyInstanceUID]) {
    const v = ds.string(t);
    if (v) return `${t}:${v}`;
  }
  return JSON.stringify(datasetToFlat(ds));
}

export class DateSplitter {
  private readonly seen = new Set<string>();
  /** A part of the range failed for another reason than the peer's cap. */
  failed = false;
  /** Why, for the row's record. */
  failure?: string;
  /** Matches output (duplicates of overlapping parts not counted). */
  get matches(): number {
    return this.seen.size;
  }

  constructor(
    private readonly state: Finder,
    private readonly assoc: Association,
    private readonly maxResults?: number,
  ) {}

  async run(q: Query): Promise<void> {
    const log = this.state.log;
    const value = q.dataset.string(Tags.StudyDate) ?? "";
    let range: { from: string; to: string } | undefined;
    try {
      // Full dates at both ends: halves of a range are always valid DA ranges.
      range = dateRange("StudyDate", value, today());
    } catch (e) {
      if (e instanceof ValueError)
        throw new UsageError(`--split-dates: query ${q.id ?? q.where}: ${e.message}`);
      throw e;
    }
    if (!range) {
      log.warn(
        `--split-dates: query ${q.id ?? q.where} has no StudyDate range; splitting 19000101-${today()} (studies without a StudyDate are not matched)`,
      );
      range = { from: "19000101", to: today() };
    }
    await this.range(q, range.from, range.to);
  }

  private async range(q: Query, from: string, to: string): Promise<void> {
    if (!this.state.alive()) return;
    const ds = q.dataset.clone();
    ds.setString(Tags.StudyDate, "DA", from === to ? from : `${from}-${to}`);
    const { pending, final, failure } = await this.state.query(this.assoc, q, ds, (match) => {
      const k = matchKey(match);
      if (this.seen.has(k)) return false;
      this.seen.add(k);
      return true;
    });
    if (final && statusClass(final.status) === "Failure" && !capStatus(final)) {
      this.failed = true;
      this.failure ??= failure;
    }
    const capped =
      (this.maxResults !== undefined && pending >= this.maxResults) || capStatus(final);
    if (!capped) return;
    if (capStatus(final)) this.state.failedQueries--; // the split answers it
    if (from === to) {
      this.state.incomplete++;
      this.state.log.warn(
        `--split-dates: ${pending} matches on the single day ${from} for query ${q.id ?? q.where} reach the peer's cap; results may be incomplete`,
      );
      return;
    }
    const a = toDate(from);
    const b = toDate(to);
    const mid = a + Math.floor((b - a) / DAY / 2) * DAY;
    this.state.log.info(
      `--split-dates: ${from}-${to} capped at ${pending} matches; splitting at ${fromDate(mid)}`,
    );
    await this.range(q, from, fromDate(mid));
    await this.range(q, fromDate(mid + DAY), to);
  }
}
