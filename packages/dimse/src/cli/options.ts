/**
 * The value types of the shared option groups, by key (see
 * `app/options.ts`, which re-exports them): the option functions of this
 * folder return specs keyed by these interfaces' keys.
 */

/** Keys of an options interface, for `OptionSpec<K>`. */
export type KeysOf<T> = Extract<keyof T, string>;

/** `-h`, `--version`, `--arguments`, `-q/-v/-d/-ll`, `-lc`. */
export interface GeneralOptions {
  help?: boolean;
  version?: boolean;
  arguments?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  debug?: boolean;
  logLevel?: string;
  logConfig?: string;
}

/** An SCU's network options: `-aet`, `-aec`, `-to/-ta/-td`, `-pdu`, `--bind`, named peers, retries. */
export interface ScuNetworkOptions {
  aetitle?: string;
  call?: string;
  timeout?: number;
  acseTimeout?: number;
  dimseTimeout?: number;
  socketTimeout?: number;
  maxPdu?: number;
  bind?: string;
  peerName?: string;
  peersFile?: string;
  retries?: number;
  retryWait?: number;
}

/** An acceptor's limits (`scpLimitOptions`). */
export interface ScpLimitOptions {
  dimseTimeout?: number;
  maxAssociations?: number;
  maxMessage?: number;
}

/** Records on stdout: `--format`, `--excel`, `--no-output`, `--no-progress`. */
export interface OutputOptions {
  format?: string;
  excel?: boolean;
  noOutput?: boolean;
  noProgress?: boolean;
}
