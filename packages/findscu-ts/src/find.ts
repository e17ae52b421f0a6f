/**
 * One C-FIND of findscu-ts and what it writes: the DCMTK response dump on
 * stderr, a record per match on stdout, `-X` files; the counters the exit
 * status comes from.
 */
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  Dataset,
  dumpLines,
  encodePart10,
  newUid,
  parseDataset,
  responseBlock,
  SopClass,
  syntaxInfo,
  syntaxName,
  TransferSyntax,
  type QueryModel,
} from "@dicom-pipes/dimse/dicom";
import {
  findBatches,
  isTransientStatus,
  retryWait,
  statusClass,
  statusHex,
  statusText,
  type AcceptedContext,
  type Association,
  type Response,
} from "@dicom-pipes/dimse/net";
import {
  datasetToFlat,
  datasetToFlatJson,
  datasetToPs318,
  type FlatRecord,
} from "@dicom-pipes/dimse/records";
import type { Io, RecordWriter } from "@dicom-pipes/dimse/io";
import { Exit, type CliLogger } from "@dicom-pipes/dimse/cli";
import type { OutputSettings, ScuSettings } from "@dicom-pipes/dimse/app";
import type { Query } from "./queries.js";

export interface FindSettings extends ScuSettings, OutputSettings {
  model: QueryModel;
  jsonModel: boolean;
  bulk: "omit" | "inline";
  showDump: boolean;
  extract?: { dir: string; limit?: number };
  repeat: number;
  cancelAfter?: number;
  abort: boolean;
  split?: { maxResults?: number };
  batch: boolean;
  keepGoing: boolean;
  /** Input is a query table: its rows without a match are records with a status. */
  table: boolean;
}

/** The per-query work of a run and its shared state: output, counters. */
export class Finder {
  /** DCMTK's response counter (counts final responses too). */
  counter = 0;
  extracted = 0;
  queries = 0;
  failedQueries = 0;
  incomplete = 0;
  matches = 0;
  private columnsFixed = false;

  constructor(
    readonly s: FindSettings,
    readonly io: Io,
    readonly log: CliLogger,
    readonly writer: RecordWriter,
    readonly sopClass: string,
  ) {}

  /** The exit status from the counters: 1 when every query failed, 3 when some did or rows were invalid. */
  exitStatus(invalidRows: number): number {
    if (this.failedQueries > 0)
      return this.failedQueries === this.queries &&
        !this.s.keepGoing &&
        this.incomplete === 0 &&
        invalidRows === 0
        ? Exit.FAILURE
        : Exit.PARTIAL;
    if (invalidRows > 0 || this.incomplete > 0) return Exit.PARTIAL;
    return Exit.OK;
  }

  /** False once the reader went away or a signal arrived. */
  alive(): boolean {
    return this.writer.ok && !this.io.signal?.aborted;
  }

  /**
   * Run one C-FIND; `onMatch` may veto output of a match (deduplication).
   * Returns the number of pending responses and the final response.
   */
  async query(
    assoc: Association,
    q: Query,
    identifier: Dataset,
    onMatch?: (ds: Dataset) => boolean,
  ): Promise<{ pending: number; final?: Response; failure?: string }> {
    // A transient failure status (0xA7xx, 0xC001) is retried only when no match was emitted: nothing is written twice.
    const o = {
      policy: this.s.retry,
      signal: this.io.signal,
      warn: (m: string) => this.log.warn(m),
      what: "C-FIND",
    };
    this.queries++;
    for (let n = 1; ; n++) {
      const r = await this.queryOnce(assoc, q, identifier, onMatch, n <= o.policy.retries);
      const status = r.final?.status;
      if (r.pending > 0 || status === undefined || !isTransientStatus(status)) return r;
      if (!(await retryWait(o, n, `${statusText(status, "find")} (${statusHex(status)})`)))
        return r;
    }
  }

  private async queryOnce(
    assoc: Association,
    q: Query,
    identifier: Dataset,
    onMatch: ((ds: Dataset) => boolean) | undefined,
    mayRetry: boolean,
  ): Promise<{ pending: number; final?: Response; failure?: string }> {
    const log = this.log;
    const started = Date.now();
    let pending = 0;
    let final: Response | undefined;
    let failure: string | undefined;
    const onSent = (id: number, pc: AcceptedContext) => {
      if (!log.enabled("info")) return;
      log.info(`Sending Find Request (MsgID ${id})`);
      log.dcmtkLines("I", [
        "Request Identifiers:",
        "",
        "# Dicom-Data-Set",
        `# Used TransferSyntax: ${syntaxName(pc.transferSyntax)}`,
        ...dumpLines(identifier, true, 0, [], { showPadding: false }),
        "",
      ]);
    };
    this.fixColumns(identifier);
    const flatJson = this.s.output && this.s.format === "ndjson" && !this.s.jsonModel;
    const meta = this.s.batch ? `"query":${JSON.stringify(q.id ?? null)}` : "";
    // A batch of responses is handled in one synchronous loop (its records go out as one
    // write) unless a match waits for its -X file or for a CSV/TSV/--json-model record.
    batches: for await (const batch of findBatches(assoc, this.sopClass, identifier, {
      dimseTimeoutMs: this.s.timeouts.dimse,
      onSent,
      onCancel: (id, pc) => log.info(`Sending Cancel Request (MsgID ${id}, PresID ${pc.id})`),
    })) {
      let lines = "";
      let count = 0;
      try {
        for (let i = 0; i < batch.length; i++) {
          const r = batch[i]!;
          this.counter++;
          if (!r.pending) {
            final = r;
            break batches;
          }
          pending++;
          const info = syntaxInfo(r.context.transferSyntax);
          const ds = r.identifierBytes ? parseDataset(r.identifierBytes, info) : new Dataset();
          if (this.s.showDump && log.enabled("warn")) {
            log.dcmtkLines(
              "I",
              responseBlock(this.counter, "Pending", ds, r.context.transferSyntax, info.little),
            );
          }
          if (onMatch && !onMatch(ds)) continue;
          this.matches++;
          if (
            this.s.extract &&
            (this.s.extract.limit === undefined || this.extracted < this.s.extract.limit)
          ) {
            this.extracted++;
            await this.writeExtract(ds, info.little);
          }
          if (flatJson) {
            lines += `${datasetToFlatJson(ds, { little: info.little, bulk: this.s.bulk }, meta)}\n`;
            count++;
          } else if (this.s.output) await this.writer.write(this.record(q, ds, info.little));
          if (!this.alive()) break batches;
          // findBatches sends C-CANCEL (unless the final response came in this batch already).
          if (this.s.cancelAfter !== undefined && pending >= this.s.cancelAfter) break batches;
        }
      } finally {
        if (count > 0) await this.writer.writeJsonLines(lines, count);
      }
    }
    if (final) {
      const text = statusText(final.status, "find");
      log.info(`Received Final Find Response (${text})`);
      const cls = statusClass(final.status);
      if (
        cls === "Failure" &&
        mayRetry &&
        pending === 0 &&
        isTransientStatus(final.status) &&
        !this.io.signal?.aborted
      ) {
        log.info(`Find Failed (${text}, ${statusHex(final.status)})`);
      } else if (cls === "Failure") {
        this.failedQueries++;
        const comment = final.command.errorComment ? `: ${final.command.errorComment}` : "";
        failure = `${text} (${statusHex(final.status)})${comment}`;
        log.error(
          `Find Failed (${text}, ${statusHex(final.status)}${comment})${this.s.batch ? ` for query ${q.id ?? q.where}` : ""}`,
        );
      } else if (cls === "Warning") {
        log.warn(`Find finished with warning status ${statusHex(final.status)} (${text})`);
      }
    }
    log.debug(`${pending} matches in ${((Date.now() - started) / 1000).toFixed(2)} s`);
    return { pending, final, failure };
  }

  private fixColumns(identifier: Dataset): void {
    if (this.columnsFixed || this.s.format === "ndjson") return;
    this.columnsFixed = true;
    const keys = Object.keys(datasetToFlat(identifier)).filter(
      (k) => k !== "SpecificCharacterSet" && k !== "QueryRetrieveLevel",
    );
    // A table's rows without a match or that failed are records too, with a status.
    const columns = this.s.batch ? ["query", ...keys, ...(this.s.table ? ["status"] : [])] : keys;
    this.writer.setColumns(columns);
  }

  record(q: Query, ds: Dataset, little: boolean): FlatRecord {
    const body = this.s.jsonModel
      ? datasetToPs318(ds, { little, bulk: this.s.bulk })
      : datasetToFlat(ds, { little, bulk: this.s.bulk });
    // Text is decoded to UTF-8; in a table the source character set is noise,
    // and so is QueryRetrieveLevel: a query parameter (given with -k in
    // DCMTK's grammar, so -k cannot tell a wanted column), echoed unchanged
    // in every response; a batch's "query" column names the query.
    if (this.s.format !== "ndjson") {
      delete body.SpecificCharacterSet;
      delete body.QueryRetrieveLevel;
    }
    if (!this.s.batch) return body;
    return { query: q.id ?? null, ...body };
  }

  private async writeExtract(ds: Dataset, little: boolean): Promise<void> {
    const dir = this.s.extract!.dir;
    const name = `rsp${String(this.counter).padStart(4, "0")}.dcm`;
    const bytes = encodePart10(ds, {
      sopClassUID: SopClass.DcmtkFindResponse,
      sopInstanceUID: newUid(),
      transferSyntax: TransferSyntax.ExplicitVRLittleEndian,
      sourceLittle: little,
    });
    const path = join(dir, name);
    const tmp = `${path}.part`;
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  }
}
