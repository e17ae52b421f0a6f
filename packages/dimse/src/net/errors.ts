/** Network failures with DCMTK-style condition texts (scripts grep those). */

export type NetErrorKind =
  | "refused" // TCP connection refused / unreachable
  | "connect-timeout"
  | "acse-timeout"
  | "rejected" // A-ASSOCIATE-RJ
  | "no-context" // no acceptable presentation context
  | "aborted" // A-ABORT received
  | "closed" // connection closed without release
  | "dimse-timeout"
  | "protocol"
  | "cancelled";

export class NetError extends Error {
  /** DCMTK's condition text, e.g. `0006:031c TCP Initialization Error: Connection refused`. */
  readonly condition: string;
  /** A-ASSOCIATE-RJ result: 1 rejected-permanent, 2 rejected-transient. */
  rejectResult?: number;
  /** The socket error code (ECONNREFUSED, ECONNRESET...) of a failed connection. */
  errno?: string;
  constructor(
    readonly kind: NetErrorKind,
    message: string,
    condition?: string,
    readonly details: string[] = [],
  ) {
    super(message);
    this.name = "NetError";
    this.condition = condition ?? message;
  }
}

export function connectError(err: NodeJS.ErrnoException): NetError {
  const code = err.code ?? "";
  const text: Record<string, string> = {
    ECONNREFUSED: "Connection refused",
    EHOSTUNREACH: "No route to host",
    ENETUNREACH: "Network is unreachable",
    ETIMEDOUT: "Connection timed out",
    ENOTFOUND: "Name or service not known",
    EADDRNOTAVAIL: "Cannot assign requested address",
  };
  const t = text[code] ?? err.message;
  const e = new NetError(
    "refused",
    `TCP Initialization Error: ${t}`,
    `0006:031c TCP Initialization Error: ${t}`,
  );
  e.errno = code;
  return e;
}
