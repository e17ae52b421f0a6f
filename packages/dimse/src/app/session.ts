/**
 * Sessions: the associations of an SCU run, opened from its settings.
 * `acquire` gives an open association (an idle one, or a new one, with
 * `--retries` for transient failures), `release` gives it back for the
 * next request, `close` releases (or, with `--abort`, aborts) them all.
 * With `-j N` at most N are in use at once, so at most N are open.
 */
import type { Association } from "../net/association.js";
import type { ContextProposal } from "../net/client.js";
import { NetError } from "../net/errors.js";
import { withRetries } from "../net/retry.js";
import { associationFailure, connectPeer, endAssociation } from "../cli/dcmtk.js";
import type { ExitError } from "../cli/exit.js";
import type { CliLogger } from "../cli/logger.js";
import type { ScuSettings } from "./settings.js";

export class Sessions {
  private readonly idle: Association[] = [];
  private readonly open = new Set<Association>();
  /** The association failure that stopped the run (exit 61), once one did. */
  failure?: ExitError;

  constructor(
    private readonly s: ScuSettings,
    private readonly contexts: ContextProposal[],
    private readonly log: CliLogger,
    private readonly signal?: AbortSignal,
    /** Called with each new association (a C-GET attaches its storage service here). */
    private readonly onOpen?: (assoc: Association) => void,
  ) {}

  /**
   * An open association. A NetError that outlived the retries is thrown
   * (and kept in `failure`); with `retries: false` the first is thrown, for
   * a caller that counts attempts itself.
   */
  async acquire(o: { retries?: boolean } = {}): Promise<Association> {
    for (let a = this.idle.pop(); a; a = this.idle.pop()) if (usable(a)) return a;
    const connect = () => connectPeer(this.s, this.contexts, this.log);
    if (o.retries === false) {
      const assoc = await connect();
      this.open.add(assoc);
      this.onOpen?.(assoc);
      return assoc;
    }
    try {
      const { value } = await withRetries(
        { policy: this.s.retry, signal: this.signal, warn: (m) => this.log.warn(m) },
        async () => ({ value: await connect() }),
      );
      this.open.add(value);
      this.onOpen?.(value);
      return value;
    } catch (e) {
      if (e instanceof NetError) this.failure ??= associationFailure(e);
      throw e;
    }
  }

  /** Give an association back after a request; one that failed is dropped (aborted). */
  release(assoc: Association): void {
    if (usable(assoc)) this.idle.push(assoc);
    else {
      if (!assoc.closed) assoc.abort();
      this.open.delete(assoc);
    }
  }

  /** End every association: A-RELEASE, or A-ABORT with `abort` (`--abort`). */
  async close(abort = false): Promise<void> {
    const all = [...this.open];
    this.open.clear();
    this.idle.length = 0;
    await Promise.all(all.map((a) => endAssociation(a, abort, this.log)));
  }
}

function usable(a: Association): boolean {
  return !a.closed && !a.error;
}
