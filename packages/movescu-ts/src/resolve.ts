/**
 * Filter rows (`--resolve auto`): each is resolved by C-FIND on an
 * association of its own, and each match retrieved by its unique keys.
 * A row without a match, or whose C-FIND failed, gets its record here
 * (`status` `no-match` or `failed`: nothing was retrieved for the row); every row that did not end in
 * Success goes to `--unmatched`.
 */
import { findSopClass, type QueryModel } from "@dicom-pipes/dimse/dicom";
import { FindFailed, FindSession } from "@dicom-pipes/dimse/net";
import { proposedSyntaxes, Sessions, type ScuSettings } from "@dicom-pipes/dimse/app";
import { MatchError, resolveMatches, type FlatRecord } from "@dicom-pipes/dimse/records";
import { InputError, type RecordWriter, type UnmatchedRows } from "@dicom-pipes/dimse/io";
import { Exit, type CliLogger } from "@dicom-pipes/dimse/cli";
import {
  matchRequest,
  type FilterRow,
  type RequestSourceOptions,
  type RetrieveRequest,
} from "./requests.js";

export interface ResolveOptions {
  requests: RequestSourceOptions;
  model: QueryModel;
  session: FindSession;
  writer?: RecordWriter;
  unmatched?: UnmatchedRows;
  log: CliLogger;
}

/**
 * The C-FIND association of a retrieve run: same peer, AE titles, timeouts
 * and association retries (the run's settings), the model's FIND class.
 */
export function findSession(
  s: ScuSettings,
  model: QueryModel,
  log: CliLogger,
  signal: AbortSignal | undefined,
): FindSession {
  const sopClass = findSopClass(model);
  return new FindSession({
    associations: new Sessions(
      s,
      [{ abstractSyntax: sopClass, transferSyntaxes: proposedSyntaxes() }],
      log,
      signal,
    ),
    sopClass,
    dimseTimeoutMs: s.timeouts.dimse,
    retry: { policy: s.retry, signal, warn: (m: string) => log.warn(m) },
  });
}

export class Resolver {
  /** Rows whose C-FIND failed. */
  failures = 0;

  constructor(private readonly o: ResolveOptions) {}

  /** The requests of a source, filter rows replaced by a request per match. */
  async *requests(
    source: AsyncGenerator<RetrieveRequest | FilterRow>,
  ): AsyncGenerator<RetrieveRequest> {
    const unmatched = this.o.unmatched;
    const onResult = (req: RetrieveRequest) => (rec: FlatRecord) => {
      if (rec.status !== "Success" && req.row) unmatched?.add(req.row.line, req.row.cells);
    };
    try {
      for await (const item of source) {
        if (!("plan" in item)) {
          yield unmatched ? { ...item, onResult: onResult(item) } : item;
          continue;
        }
        yield* this.resolve(item, onResult);
      }
    } finally {
      await this.o.session.close();
    }
  }

  private async *resolve(
    f: FilterRow,
    onResult: (req: RetrieveRequest) => (rec: FlatRecord) => void,
  ): AsyncGenerator<RetrieveRequest> {
    const { log } = this.o;
    const keys = f.plan.filters.map((k) => `${k.keyword}=${k.value}`).join(", ");
    log.info(`${f.where}: resolving ${keys} by C-FIND (${f.plan.steps.join(", ")})`);
    let n = 0;
    try {
      for await (const uids of resolveMatches(f.plan, this.o.model, (id) =>
        this.o.session.run(id),
      )) {
        n++;
        const req = matchRequest(f, uids, this.o.requests);
        yield { ...req, onResult: onResult(req) };
      }
    } catch (e) {
      // A failed C-FIND, or a match that does not name one object (a bad UID, a wildcard), fails the row.
      if (!(e instanceof FindFailed || e instanceof MatchError || e instanceof InputError)) throw e;
      this.failures++;
      log.error(`${f.where}: ${e.message}`);
      await this.report(f, "failed", e.message);
      return;
    }
    if (n === 0) {
      log.warn(`${f.where}: no ${f.plan.level.toLowerCase()} matches ${keys}`);
      await this.report(f, "no-match");
    } else log.info(`${f.where}: ${n} ${f.plan.level.toLowerCase()} matches`);
  }

  /**
   * The run's exit status with the rows resolved here: a failed C-FIND is
   * a failed request (69). `--unmatched` is written only when the run went
   * to its end.
   */
  async finish(code: number | undefined): Promise<number | undefined> {
    // The run may stop before the source is drained (an association failure): the C-FIND association ends here too.
    await this.o.session.close();
    const complete = code !== undefined && code !== 130 && code !== 143;
    if (complete) await this.o.unmatched?.commit();
    else await this.o.unmatched?.abort();
    if (code === Exit.OK && this.failures) return Exit.RETRIEVE_FAILURE;
    return code;
  }

  private async report(f: FilterRow, status: string, error?: string): Promise<void> {
    this.o.unmatched?.add(f.row.line, f.row.cells);
    await this.o.writer?.write({
      query: f.row.id,
      ...f.record,
      status,
      ...(error ? { error } : {}),
    });
  }
}
