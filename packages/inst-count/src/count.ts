/**
 * The counting engine: one pass over the records, memory bounded by the
 * number of groups plus a 16-byte fingerprint per distinct study (or
 * series) for deduplication; nothing is kept per record.
 */
import {
  DistinctSet,
  fieldText,
  parseDicomDate,
  type FlatRecord,
} from "@dicom-pipes/dimse/records";
import { inWindow, type DateWindow } from "@dicom-pipes/dimse/cli";

export type Per = "study" | "series" | "record";

export const UNKNOWN = "Unknown";
export const EMPTY = "(empty)";

export interface CountOptions {
  by: string[];
  per: Per;
  foldCase: boolean;
  window: DateWindow;
}

export interface Row {
  /** One label per `by` key (cleaned; `Unknown` for absent, `(empty)` for empty). */
  labels: string[];
  /** Which labels stand for an absent (undefined) or empty (null) value. */
  kinds: Array<"value" | "absent" | "empty">;
  count: number;
}

export interface CountStats {
  records: number;
  noDate: number;
  outside: number;
  afterNow: number;
  noUid: number;
  duplicates: number;
}

interface Group {
  labels: string[];
  kinds: Array<"value" | "absent" | "empty">;
  count: number;
  /** Spelling variants seen under --fold-case, with their record counts. */
  variants?: Map<string, number>;
}

/** Trim and collapse runs of white space. */
export function cleanName(s: string): string {
  const t = s.trim();
  return /\s\s|[\t\n\r\f\v]/.test(t) ? t.replace(/\s+/g, " ") : t;
}

export class Counter {
  readonly stats: CountStats = {
    records: 0,
    noDate: 0,
    outside: 0,
    afterNow: 0,
    noUid: 0,
    duplicates: 0,
  };
  private groups = new Map<string, Group>();
  private seen = new DistinctSet();
  private lastUnit = "";
  private lastGroup = "";
  private clean = new Map<string, string>();
  private readonly uidKey: string | undefined;

  /** The keys `add` reads. */
  readonly fields: string[];

  constructor(private readonly o: CountOptions) {
    this.uidKey =
      o.per === "study" ? "StudyInstanceUID" : o.per === "series" ? "SeriesInstanceUID" : undefined;
    this.fields = [
      ...o.by,
      ...(o.window.all ? [] : ["StudyDate"]),
      ...(this.uidKey ? [this.uidKey] : []),
    ];
  }

  /** The cleaned label of a value: `Unknown` when absent, `(empty)` when empty. */
  private label(raw: string | undefined): string {
    if (raw === undefined) return UNKNOWN;
    let c = this.clean.get(raw);
    if (c === undefined) {
      c = cleanName(raw);
      if (this.clean.size < 50_000) this.clean.set(raw, c);
    }
    return c === "" ? EMPTY : c;
  }

  /** Labels and kinds of a record's `by` values (once per group, not per record). */
  private newGroup(rec: FlatRecord): Group {
    const labels: string[] = [];
    const kinds: Group["kinds"] = [];
    for (const b of this.o.by) {
      const raw = fieldText(rec, b);
      labels.push(this.label(raw));
      kinds.push(raw === undefined ? "absent" : cleanName(raw) === "" ? "empty" : "value");
    }
    return { labels, kinds, count: 0 };
  }

  add(rec: FlatRecord): void {
    const st = this.stats;
    st.records++;
    const w = this.o.window;
    // `all` has no bounds: every record counts, dated or not.
    if (!w.all) {
      const day = parseDicomDate(rec.StudyDate);
      if (day === undefined) {
        st.noDate++;
        return;
      }
      if (!inWindow(w, day)) {
        st.outside++;
        return;
      }
      if (day > w.now) st.afterNow++;
    }
    // The labels joined (NUL-separated), built without per-record arrays.
    const by = this.o.by;
    let joined = this.label(fieldText(rec, by[0]!));
    for (let i = 1; i < by.length; i++) joined += `\u0000${this.label(fieldText(rec, by[i]!))}`;
    const key = this.o.foldCase ? joined.toLowerCase() : joined;
    if (this.uidKey) {
      const uid = fieldText(rec, this.uidKey);
      if (!uid) st.noUid++;
      else {
        // Consecutive rows of one study (series-level results) need no lookup.
        if (uid === this.lastUnit && key === this.lastGroup) {
          st.duplicates++;
          return;
        }
        this.lastUnit = uid;
        this.lastGroup = key;
        if (!this.seen.addPair(key, uid)) {
          st.duplicates++;
          return;
        }
      }
    }
    let g = this.groups.get(key);
    if (!g) {
      g = this.newGroup(rec);
      this.groups.set(key, g);
    }
    g.count++;
    if (this.o.foldCase) {
      g.variants ??= new Map();
      g.variants.set(joined, (g.variants.get(joined) ?? 0) + 1);
    }
  }

  /** Rows sorted by count descending, then by label (code-point order). */
  rows(): Row[] {
    const rows: Row[] = [];
    for (const g of this.groups.values()) {
      let labels = g.labels;
      if (g.variants && g.variants.size > 1) {
        // Show the most frequent spelling (ties: the first in code-point order).
        let best = "";
        let bestN = -1;
        for (const [v, n] of g.variants)
          if (n > bestN || (n === bestN && v < best)) [best, bestN] = [v, n];
        labels = best.split("\u0000");
      }
      rows.push({ labels, kinds: g.kinds, count: g.count });
    }
    // Each row's name joined once, not in every comparison.
    const named = rows.map((row) => ({ row, name: row.labels.join("\u0000") }));
    named.sort(
      (a, b) => b.row.count - a.row.count || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    );
    return named.map((n) => n.row);
  }
}
