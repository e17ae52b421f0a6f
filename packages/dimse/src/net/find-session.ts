/**
 * C-FIND on the side of another job: one association, opened on first use
 * and kept for the queries that follow, for a tool whose own association
 * proposes other services (movescu-ts resolving filter rows before it
 * retrieves). Queries run one at a time; each returns its matches.
 */
import { Dataset, parseDataset } from "../dicom/dataset.js";
import { syntaxInfo } from "../dicom/syntax.js";
import type { Association } from "./association.js";
import { find } from "./client.js";
import { statusClass, statusHex, statusText } from "./command.js";
import { isTransientStatus, type RetryOptions, withRetries } from "./retry.js";

/** A C-FIND answered with a failure status (or cancelled): the query's matches are unknown. */
export class FindFailed extends Error {
  constructor(
    readonly status: number,
    readonly comment?: string,
  ) {
    super(
      `C-FIND failed: ${statusText(status, "find")} (${statusHex(status)})${comment ? `: ${comment}` : ""}`,
    );
    this.name = "FindFailed";
  }
}

export interface FindSessionOptions {
  /**
   * Opens an association proposing `sopClass` (the caller's session
   * layer: peer, AE titles, timeouts and association retries), and
   * ends it.
   */
  associations: { acquire(): Promise<Association>; close(): Promise<void> };
  sopClass: string;
  dimseTimeoutMs?: number;
  retry: RetryOptions;
  /** Called with each query's identifier before it is sent (for `-d` logs). */
  onQuery?: (identifier: Dataset) => void;
}

export class FindSession {
  private assoc?: Association;
  private busy: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: FindSessionOptions) {}

  /** Run one C-FIND (after any query still running); its matches' identifiers. */
  run(identifier: Dataset): Promise<Dataset[]> {
    const next = this.busy.then(() => this.query(identifier));
    this.busy = next.catch(() => undefined);
    return next;
  }

  private async open(): Promise<Association> {
    if (this.assoc && !this.assoc.closed && !this.assoc.error) return this.assoc;
    this.assoc = await this.o.associations.acquire();
    return this.assoc;
  }

  private async query(identifier: Dataset): Promise<Dataset[]> {
    this.o.onQuery?.(identifier);
    const { value } = await withRetries<Dataset[] | FindFailed>(
      { ...this.o.retry, what: "C-FIND" },
      async () => {
        const assoc = await this.open();
        const matches: Dataset[] = [];
        for await (const r of find(assoc, this.o.sopClass, identifier, {
          dimseTimeoutMs: this.o.dimseTimeoutMs,
        })) {
          if (r.pending) {
            matches.push(
              r.identifierBytes
                ? parseDataset(r.identifierBytes, syntaxInfo(r.context.transferSyntax))
                : new Dataset(),
            );
            continue;
          }
          const cls = statusClass(r.status);
          if (cls === "Success" || cls === "Warning") return { value: matches };
          const failed = new FindFailed(r.status, r.command.errorComment);
          // A transient failure before any match is asked again; the last one is the answer.
          if (matches.length === 0 && isTransientStatus(r.status))
            return {
              value: failed,
              retry: `${statusText(r.status, "find")} (${statusHex(r.status)})`,
            };
          return { value: failed };
        }
        return { value: new FindFailed(0xfe00) };
      },
    );
    if (value instanceof FindFailed) throw value;
    return value;
  }

  /** Release the association, if one was opened. */
  async close(): Promise<void> {
    this.assoc = undefined;
    await this.o.associations.close();
  }
}
