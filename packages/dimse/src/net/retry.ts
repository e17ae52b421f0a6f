/**
 * Retries of transient network failures: which failures are transient,
 * the back-off between attempts, and the loop that retries.
 *
 * Transient: a TCP connection refused, reset or timed out; an association
 * rejected with result rejected-transient (2); a peer that aborts or closes
 * before the association is accepted; and the statuses 0xA7xx (refused:
 * out of resources) and 0xC001 (unable to process). Never retried: a
 * rejected-permanent association, no acceptable presentation context, a
 * host that does not resolve, and every other failure status (0xA801 move
 * destination unknown, 0xA900 identifier does not match SOP class...).
 *
 * Back-off: the first wait is `waitMs`, doubled for each further attempt,
 * with ±20 % jitter, and at most 5 minutes.
 */
import { NetError } from "./errors.js";

export interface RetryPolicy {
  /** Retries after the first attempt (0: none). */
  retries: number;
  /** First wait in milliseconds. */
  waitMs: number;
}

export const MAX_RETRY_WAIT_MS = 5 * 60 * 1000;

const TRANSIENT_ERRNO = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

/** A failure to open an association that is worth another attempt. */
export function isTransientNetError(e: unknown): boolean {
  if (!(e instanceof NetError)) return false;
  switch (e.kind) {
    case "refused":
      return e.errno !== undefined && TRANSIENT_ERRNO.has(e.errno);
    case "connect-timeout":
    case "acse-timeout":
    case "aborted":
    case "closed":
      return true;
    case "rejected":
      return e.rejectResult === 2;
    default:
      return false;
  }
}

/** A failure status worth sending the request again: 0xA7xx (out of resources) and 0xC001 (unable to process). */
export function isTransientStatus(status: number): boolean {
  return (status & 0xff00) === 0xa700 || status === 0xc001;
}

/** The wait before retry `n` (1-based): waitMs × 2^(n-1), ±20 % jitter, at most 5 minutes. */
export function retryDelayMs(
  policy: RetryPolicy,
  n: number,
  random: () => number = Math.random,
): number {
  const base = Math.min(policy.waitMs * 2 ** Math.max(0, n - 1), MAX_RETRY_WAIT_MS);
  const jittered = base * (0.8 + 0.4 * random());
  return Math.round(Math.min(jittered, MAX_RETRY_WAIT_MS));
}

/** Wait `ms`, or less when `signal` aborts; the abort listener goes when the wait ends (one per pending wait, never more). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** What one attempt gave: a value, or a value worth retrying (a transient status) with the reason logged. */
export type Attempt<T> = { value: T; retry?: string };

export interface RetryOptions {
  policy: RetryPolicy;
  signal?: AbortSignal;
  /** Logs `<what> failed (<reason>); retry 2 of 5 in 3.2 s`. */
  warn: (message: string) => void;
  /** Names the operation in the log, e.g. "association" or "C-STORE". */
  what?: string;
  random?: () => number;
}

/**
 * After attempt `n` failed for `reason`: false when the retries are spent
 * or the run is interrupted; otherwise log the retry, wait, and return
 * true (false when interrupted during the wait).
 */
export async function retryWait(o: RetryOptions, n: number, reason: string): Promise<boolean> {
  if (n > o.policy.retries || o.signal?.aborted) return false;
  const ms = retryDelayMs(o.policy, n, o.random);
  o.warn(
    `${o.what ?? "association"} failed (${reason}); retry ${n} of ${o.policy.retries} in ${(ms / 1000).toFixed(ms < 1000 ? 2 : 1)} s`,
  );
  await sleep(ms, o.signal);
  return !o.signal?.aborted;
}

/**
 * Run `attempt` until it succeeds, fails for good, or the retries are
 * spent. A thrown transient NetError is retried (unless `retryError` says
 * otherwise); a value with `retry` set is retried, and returned as it is
 * when the retries are spent. An interrupted wait ends the loop: the last
 * error is thrown, or the last value returned.
 */
export async function withRetries<T>(
  o: RetryOptions,
  attempt: (n: number) => Promise<Attempt<T>>,
  retryError: (e: unknown) => boolean = isTransientNetError,
): Promise<{ value: T; attempts: number }> {
  for (let n = 1; ; n++) {
    try {
      const r = await attempt(n);
      if (r.retry === undefined || !(await retryWait(o, n, r.retry)))
        return { value: r.value, attempts: n };
    } catch (e) {
      if (
        !retryError(e) ||
        !(await retryWait(o, n, e instanceof NetError ? e.condition : String(e)))
      )
        throw e;
    }
  }
}
