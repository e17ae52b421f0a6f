/**
 * Real DICOM peers for interoperability tests and benchmarks:
 * DCMTK dcmqrscp / storescp and Orthanc, all on 127.0.0.1 with free ports
 * picked at run time. Node built-ins only.
 *
 * Every process is started in its own process group (dcmqrscp forks a child
 * per association), logs to `<dir>/peer.log`, and is killed by `stop()` or,
 * failing that, by an `exit` / signal handler installed on first use.
 */
import { spawn, type ChildProcess } from "node:child_process";
import {
  accessSync,
  constants as fsConstants,
  closeSync,
  mkdtempSync,
  openSync,
  rmSync,
} from "node:fs";
import { mkdir, open, readFile, rm, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { type RunResult, runResult } from "./bins.js";
import { filesUnder } from "./files.js";

export const LOOPBACK = "127.0.0.1";

export interface DcmqrscpOptions {
  /** Archive AE title (default "QRSCP"). */
  aet?: string;
  /** C-MOVE destinations, all on 127.0.0.1. */
  hostTable?: Array<{ name: string; aet: string; port: number }>;
  /** MaxPDUSize in the configuration file (default 16384). */
  maxPdu?: number;
  /** MaxAssociations (default 16). */
  maxAssociations?: number;
  /** DICOM files or directories to load after start. */
  files?: string[];
  /** Extra dcmqrscp command-line options (e.g. "+xs"). */
  args?: string[];
}

export interface DcmqrscpPeer {
  host: "127.0.0.1";
  port: number;
  aet: string;
  /** Temp dir: config, `storage/`, `peer.log`. Removed by stop(). */
  dir: string;
  stop(): Promise<void>;
  /** Send files/directories with `storescu +sd +r`. */
  load(files: string[]): Promise<void>;
}

export interface OrthancOptions {
  /** DicomAet (default "ORTHANC"). */
  aet?: string;
  /** DicomModalities: C-MOVE destinations on 127.0.0.1, keyed by symbolic name. */
  modalities?: Record<string, { aet: string; port: number }>;
  /** DICOM files or directories to upload after start. */
  files?: string[];
  /** Extra configuration keys merged over the defaults. */
  config?: Record<string, unknown>;
  /**
   * stop() sends SIGTERM and waits for Orthanc's orderly shutdown (~2.5 s, mostly the
   * embedded HTTP server). Default false: SIGKILL, since the temp dir is deleted anyway.
   */
  gracefulStop?: boolean;
}

export interface OrthancPeer {
  host: "127.0.0.1";
  /** DICOM port. */
  port: number;
  httpPort: number;
  aet: string;
  dir: string;
  stop(): Promise<void>;
  /** Upload files/directories with `POST /instances`. */
  load(files: string[]): Promise<void>;
  /** REST call, e.g. `rest("/statistics")`; returns parsed JSON (or text if not JSON). Throws on HTTP errors. */
  rest(path: string, init?: RequestInit): Promise<any>;
}

export interface StorescpOptions {
  /** storescp's own AE title (default "STORESCP"); it accepts any called AE anyway. */
  aet?: string;
  /** Output directory (default: `<fresh temp dir>/in`). Not removed by stop() when given. */
  dir?: string;
  /** Extra options such as "+xa", "--fork", "-pm", "-su", "". */
  args?: string[];
}

export interface StorescpPeer {
  host: "127.0.0.1";
  port: number;
  aet: string;
  /** The -od directory where received files land. */
  dir: string;
  /** Path of storescp's log (stdout+stderr). */
  log: string;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Environment

const DCMTK_ENV = (): NodeJS.ProcessEnv => ({ ...process.env, TCP_NODELAY: "1" });

/** The path of an executable `bin` on PATH (or in `extra` directories). */
export function findOnPath(bin: string, extra: string[] = []): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(path.delimiter), ...extra].filter(Boolean);
  for (const d of dirs) {
    const p = path.join(d, bin);
    try {
      accessSync(p, fsConstants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

let dcmtkCache: boolean | undefined;
let orthancPath: string | null | undefined;

/** True when the DCMTK tools the tests use are installed (the one check for every test). */
export function hasDcmtk(): boolean {
  dcmtkCache ??= [
    "dcmqrscp",
    "storescp",
    "storescu",
    "echoscu",
    "findscu",
    "movescu",
    "dump2dcm",
    "dcmdump",
    "dcm2json",
    "dcmodify",
  ].every((b) => findOnPath(b) !== undefined);
  return dcmtkCache;
}

function orthancBin(): string | undefined {
  if (orthancPath === undefined)
    orthancPath = findOnPath("Orthanc", ["/usr/sbin", "/usr/local/sbin"]) ?? null;
  return orthancPath ?? undefined;
}

/** True when the Orthanc server binary is installed (PATH or /usr/sbin). */
export function hasOrthanc(): boolean {
  return orthancBin() !== undefined;
}

/** A free TCP port on 127.0.0.1 (listen on port 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, LOOPBACK, () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error("freePort: no port"))));
    });
  });
}

/**
 * A port held by a plain TCP listener (on `host`, default all interfaces),
 * for "address already in use" tests. close() frees it.
 */
export function busyPort(host?: string): Promise<{ port: number; close(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      resolve({ port, close: () => new Promise<void>((done) => srv.close(() => done())) });
    });
  });
}

// ---------------------------------------------------------------------------
// Process bookkeeping and cleanup

interface Tracked {
  child: ChildProcess;
  exited: Promise<void>;
}

const live = new Set<Tracked>();
const tempDirs = new Set<string>();
let handlersInstalled = false;

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  // Every process here is spawned detached, i.e. leads its own process group.
  try {
    process.kill(-pid, signal);
  } catch {
    // group already empty
  }
}

function cleanupSync(): void {
  for (const t of live) killGroup(t.child.pid, "SIGKILL");
  live.clear();
  if (process.env.DICOM_PIPES_KEEP_PEERS !== "1") {
    for (const d of tempDirs) {
      try {
        rmSync(d, { recursive: true, force: true });
      } catch {
        // best effort
      }
    }
  }
  tempDirs.clear();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", cleanupSync);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const handler = (): void => {
      cleanupSync();
      // Only take over the default behaviour (terminate) when nobody else listens.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.once(sig, handler);
  }
}

function makeTempDir(prefix: string): string {
  installHandlers();
  const dir = mkdtempSync(path.join(os.tmpdir(), `dicom-pipes-${prefix}-`));
  tempDirs.add(dir);
  return dir;
}

async function removeTempDir(dir: string): Promise<void> {
  tempDirs.delete(dir);
  if (process.env.DICOM_PIPES_KEEP_PEERS === "1") return;
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** Spawn a long-running server in its own process group, output appended to `log`. */
function spawnServer(
  bin: string,
  args: string[],
  log: string,
  env: NodeJS.ProcessEnv,
  cwd: string,
): Tracked {
  installHandlers();
  const fd = openSync(log, "a");
  let child: ChildProcess;
  try {
    child = spawn(bin, args, { cwd, env, stdio: ["ignore", fd, fd], detached: true });
  } finally {
    closeSync(fd);
  }
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    child.once("exit", () => resolve());
    child.once("error", () => resolve());
  });
  const t: Tracked = { child, exited };
  live.add(t);
  void exited.then(() => {
    // Children of a forking server may outlive it; kill the group once the leader is gone.
    if (live.has(t)) killGroup(child.pid, "SIGKILL");
    live.delete(t);
  });
  // Don't keep the test process alive just because a peer runs.
  child.unref();
  return t;
}

/** Wait for the process to exit, at most `ms`; the timer is cancelled so it never holds the event loop. */
async function exitsWithin(t: Tracked, ms: number): Promise<boolean> {
  const ac = new AbortController();
  try {
    return await Promise.race([
      t.exited.then(() => true),
      delay(ms, false, { signal: ac.signal }).catch(() => false),
    ]);
  } finally {
    ac.abort();
  }
}

async function stopServer(t: Tracked, graceMs = 3000): Promise<void> {
  live.delete(t);
  const { child } = t;
  if (graceMs <= 0) {
    killGroup(child.pid, "SIGKILL");
    await exitsWithin(t, 2000);
  } else if (child.exitCode === null && child.signalCode === null) {
    killGroup(child.pid, "SIGTERM");
    if (!(await exitsWithin(t, graceMs))) {
      killGroup(child.pid, "SIGKILL");
      await exitsWithin(t, 2000);
    }
  }
  // Reap forked children left in the group (dcmqrscp).
  killGroup(child.pid, "SIGKILL");
}

async function tail(file: string, lines = 30): Promise<string> {
  try {
    const text = await readFile(file, "latin1");
    return text.split("\n").slice(-lines).join("\n").trimEnd();
  } catch {
    return "(no log)";
  }
}

function isRunning(t: Tracked): boolean {
  return t.child.exitCode === null && t.child.signalCode === null;
}

/** Whether a TCP connection to 127.0.0.1:`port` succeeds within `timeoutMs`. */
export function tcpProbe(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: LOOPBACK, port });
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once("connect", () => done(true));
    sock.once("error", () => done(false));
  });
}

/** Poll `ready()` until true; fail early if the process exits. */
async function waitReady(
  t: Tracked,
  what: string,
  log: string,
  ready: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; ; i++) {
    if (!isRunning(t)) {
      throw new PeerStartError(
        `${what} exited during start-up (code ${t.child.exitCode}, signal ${t.child.signalCode})`,
        await tail(log),
      );
    }
    if (await ready()) return;
    if (Date.now() > deadline) {
      throw new PeerStartError(`${what} not ready after ${timeoutMs} ms`, await tail(log));
    }
    await delay(Math.min(20 + i * 10, 200));
  }
}

export class PeerStartError extends Error {
  readonly logTail: string;
  constructor(message: string, logTail: string) {
    super(`${message}\n--- log tail ---\n${logTail}`);
    this.name = "PeerStartError";
    this.logTail = logTail;
  }
}

const PORT_IN_USE =
  /Address already in use|TCP Initialization Error|cannot (create|initialize) network/i;

/**
 * Start a server on a free port, retrying with another port if the chosen one was
 * grabbed between freePort() and bind.
 */
async function startWithPortRetry<T>(attempt: (port: number) => Promise<T>, tries = 3): Promise<T> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      return await attempt(await freePort());
    } catch (e) {
      last = e;
      if (!(e instanceof PeerStartError) || !PORT_IN_USE.test(e.logTail)) throw e;
    }
  }
  throw last;
}

// ---------------------------------------------------------------------------
// Running DCMTK tools

/** Run a DCMTK tool with TCP_NODELAY=1; output decoded as latin1 so raw bytes survive. */
export function runDcmtk(
  bin: string,
  args: string[],
  opts: { cwd?: string; input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  installHandlers();
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, {
      cwd: opts.cwd,
      env: DCMTK_ENV(),
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      detached: true,
    });
    const t: Tracked = { child, exited: new Promise<void>((r) => child.once("close", () => r())) };
    live.add(t);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on("data", (b: Buffer) => out.push(b));
    child.stderr?.on("data", (b: Buffer) => err.push(b));
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs !== undefined) {
      timer = setTimeout(() => killGroup(child.pid, "SIGKILL"), opts.timeoutMs);
    }
    child.once("error", (e) => {
      if (timer) clearTimeout(timer);
      live.delete(t);
      reject(e);
    });
    child.once("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      live.delete(t);
      resolve(runResult(code, signal, out, err, "latin1"));
    });
    if (opts.input !== undefined && child.stdin) {
      child.stdin.on("error", () => {});
      child.stdin.end(Buffer.from(opts.input, "latin1"));
    }
  });
}

/**
 * The first bracketed value of `tag` ("gggg,eeee" in lower-case hex, as
 * DCMTK prints it) in a dcmdump-style listing, trailing NULs and spaces
 * removed; undefined when there is none.
 */
export function dumpValue(dump: string, tag: string): string | undefined {
  return new RegExp(`\\(${tag}\\) .. \\[([^\\]]*)\\]`).exec(dump)?.[1]?.replace(/[\0 ]+$/, "");
}

function describe(r: RunResult): string {
  return `exit ${r.code}\n${(r.stderr + r.stdout).split("\n").slice(-30).join("\n")}`;
}

/** Send files/directories with storescu in batches (argv length limits). */
async function storescuLoad(
  aet: string,
  port: number,
  files: string[],
  batch = 400,
): Promise<void> {
  for (let i = 0; i < files.length; i += batch) {
    const chunk = files.slice(i, i + batch);
    const r = await runDcmtk(
      "storescu",
      ["+sd", "+r", "-aec", aet, LOOPBACK, String(port), ...chunk],
      {
        timeoutMs: 600_000,
      },
    );
    if (r.code !== 0) throw new Error(`storescu to ${aet}@${port} failed: ${describe(r)}`);
  }
}

async function echo(aet: string, port: number): Promise<RunResult> {
  return runDcmtk("echoscu", ["-aec", aet, LOOPBACK, String(port)], { timeoutMs: 10_000 });
}

/** Load `files` into a peer that has just started; stop it if that fails. */
async function loadAtStart<
  P extends { load(files: string[]): Promise<void>; stop(): Promise<void> },
>(peer: P, files: string[] | undefined): Promise<P> {
  if (files?.length) {
    try {
      await peer.load(files);
    } catch (e) {
      await peer.stop();
      throw e;
    }
  }
  return peer;
}

// ---------------------------------------------------------------------------
// dcmqrscp

/** Start DCMTK's Q/R archive (default fork mode) and optionally load files into it. */
export async function startDcmqrscp(opts: DcmqrscpOptions = {}): Promise<DcmqrscpPeer> {
  const aet = opts.aet ?? "QRSCP";
  const dir = makeTempDir("dcmqrscp");
  const storage = path.join(dir, "storage");
  await mkdir(storage);
  const log = path.join(dir, "peer.log");
  const cfg = path.join(dir, "dcmqrscp.cfg");

  // dcmqrscp setuid()s to UserName/GroupName when started as root (and refuses
  // to run as root with a non-existent user). Use the current identity so the
  // storage area stays writable and removable.
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  const user = isRoot ? "root" : os.userInfo().username;
  const group = isRoot ? "root" : user;

  try {
    const peer = await startWithPortRetry(async (port) => {
      const hosts = (opts.hostTable ?? []).map(
        (h) => `${h.name} = (${h.aet}, ${LOOPBACK}, ${h.port})`,
      );
      const text = [
        `NetworkTCPPort  = ${port}`,
        `MaxPDUSize      = ${opts.maxPdu ?? 16384}`,
        `MaxAssociations = ${opts.maxAssociations ?? 16}`,
        `UserName        = ${user}`,
        `GroupName       = ${group}`,
        "HostTable BEGIN",
        ...hosts,
        "HostTable END",
        "VendorTable BEGIN",
        "VendorTable END",
        "AETable BEGIN",
        // (maxStudies, maxBytesPerStudy): larger values are clamped with a warning.
        `${aet}  ${storage}  RW  (500, 1024mb)  ANY`,
        "AETable END",
        "",
      ].join("\n");
      await writeFile(cfg, text);
      const t = spawnServer(
        "dcmqrscp",
        [...(opts.args ?? []), "-c", cfg, String(port)],
        log,
        DCMTK_ENV(),
        dir,
      );
      try {
        await waitReady(t, "dcmqrscp", log, () => tcpProbe(port), 15_000);
        const r = await echo(aet, port);
        if (r.code !== 0)
          throw new PeerStartError(`echoscu to dcmqrscp failed: ${describe(r)}`, await tail(log));
      } catch (e) {
        await stopServer(t);
        throw e;
      }
      return { t, port };
    });

    const { t, port } = peer;
    let stopped = false;
    const qr: DcmqrscpPeer = {
      host: LOOPBACK,
      port,
      aet,
      dir,
      async stop() {
        if (stopped) return;
        stopped = true;
        await stopServer(t);
        await removeTempDir(dir);
      },
      async load(files: string[]) {
        if (files.length) await storescuLoad(aet, port, files);
      },
    };
    return await loadAtStart(qr, opts.files);
  } catch (e) {
    await removeTempDir(dir).catch(() => {});
    throw e;
  }
}

// ---------------------------------------------------------------------------
// storescp

/** Start `storescp [args] -aet AET -od DIR PORT`. */
export async function startStorescp(opts: StorescpOptions = {}): Promise<StorescpPeer> {
  const aet = opts.aet ?? "STORESCP";
  const base = makeTempDir("storescp");
  const out = opts.dir ?? path.join(base, "in");
  await mkdir(out, { recursive: true });
  const log = path.join(base, "peer.log");
  try {
    const { t, port } = await startWithPortRetry(async (port) => {
      const t = spawnServer(
        "storescp",
        [...(opts.args ?? []), "-aet", aet, "-od", out, String(port)],
        log,
        DCMTK_ENV(),
        base,
      );
      try {
        await waitReady(t, "storescp", log, () => tcpProbe(port), 15_000);
      } catch (e) {
        await stopServer(t);
        throw e;
      }
      return { t, port };
    });
    let stopped = false;
    return {
      host: LOOPBACK,
      port,
      aet,
      dir: out,
      log,
      async stop() {
        if (stopped) return;
        stopped = true;
        await stopServer(t);
        await removeTempDir(base);
      },
    };
  } catch (e) {
    await removeTempDir(base).catch(() => {});
    throw e;
  }
}

// ---------------------------------------------------------------------------
// Orthanc

/** Expand files and directories (recursively, hidden files too) into a list of files. */
async function listFiles(inputs: string[]): Promise<string[]> {
  const result: string[] = [];
  for (const p of inputs) {
    if ((await stat(p)).isDirectory())
      result.push(...(await filesUnder(p, { hidden: true })).map((rel) => path.join(p, rel)));
    else result.push(p);
  }
  return result;
}

/** Start Orthanc with an isolated configuration and optionally upload files. */
export async function startOrthanc(opts: OrthancOptions = {}): Promise<OrthancPeer> {
  const bin = orthancBin();
  if (!bin) throw new Error("Orthanc is not installed");
  const aet = opts.aet ?? "ORTHANC";
  const dir = makeTempDir("orthanc");
  const log = path.join(dir, "peer.log");
  const cfgPath = path.join(dir, "orthanc.json");
  await mkdir(path.join(dir, "storage"));
  await mkdir(path.join(dir, "index"));

  const modalities: Record<string, [string, string, number]> = {};
  for (const [name, m] of Object.entries(opts.modalities ?? {}))
    modalities[name] = [m.aet, LOOPBACK, m.port];

  try {
    const started = await startWithPortRetry(async (port) => {
      // A second free port for HTTP; a collision shows up as a bind error and is retried.
      let httpPort = await freePort();
      while (httpPort === port) httpPort = await freePort();
      const config = {
        Name: `dicom-pipes-test-${aet}`,
        StorageDirectory: path.join(dir, "storage"),
        IndexDirectory: path.join(dir, "index"),
        StorageCompression: false,
        HttpServerEnabled: true,
        HttpPort: httpPort,
        RemoteAccessAllowed: false,
        AuthenticationEnabled: false,
        SslEnabled: false,
        WebDavEnabled: false,
        OrthancExplorerEnabled: false,
        HttpCompressionEnabled: false,
        DicomServerEnabled: true,
        DicomAet: aet,
        DicomPort: port,
        DicomCheckCalledAet: false,
        DicomCheckModalityHost: false,
        DicomTlsEnabled: false,
        DicomAlwaysAllowEcho: true,
        DicomAlwaysAllowStore: true,
        DicomAlwaysAllowFind: true,
        DicomAlwaysAllowFindWorklist: true,
        DicomAlwaysAllowGet: true,
        DicomAlwaysAllowMove: true,
        UnknownSopClassAccepted: true,
        DicomModalities: modalities,
        DicomModalitiesInDatabase: false,
        OrthancPeers: {},
        OrthancPeersInDatabase: false,
        SyncStorageArea: false,
        StableAge: 1,
        // Never load anything from system folders, never reach out.
        Plugins: [],
        LuaScripts: [],
        HttpProxy: "",
        ExecuteLuaEnabled: false,
        SaveJobs: false,
        MetricsEnabled: false,
        SynchronousCMove: true,
        // Release outgoing (C-MOVE) associations immediately.
        DicomAssociationCloseDelay: 0,
        TcpNoDelay: true,
        KeepAlive: true,
        ...opts.config,
      };
      await writeFile(cfgPath, JSON.stringify(config, null, 2));
      const t = spawnServer(bin, [cfgPath], log, { ...process.env, TCP_NODELAY: "1" }, dir);
      const systemUrl = `http://${LOOPBACK}:${httpPort}/system`;
      try {
        await waitReady(
          t,
          "Orthanc",
          log,
          async () => {
            try {
              const res = await fetch(systemUrl, { signal: AbortSignal.timeout(1000) });
              await res.arrayBuffer();
              return res.ok && (await tcpProbe(port));
            } catch {
              return false;
            }
          },
          30_000,
        );
      } catch (e) {
        await stopServer(t, 0);
        throw e;
      }
      return { t, port, httpPort };
    });

    const { t, port, httpPort } = started;
    const baseUrl = `http://${LOOPBACK}:${httpPort}`;
    let stopped = false;

    const rest = async (p: string, init?: RequestInit): Promise<any> => {
      const res = await fetch(baseUrl + (p.startsWith("/") ? p : `/${p}`), init);
      const text = await res.text();
      if (!res.ok)
        throw new Error(
          `Orthanc ${init?.method ?? "GET"} ${p}: HTTP ${res.status} ${text.slice(0, 500)}`,
        );
      if (text === "") return undefined;
      try {
        return JSON.parse(text);
      } catch {
        return text;
      }
    };

    const load = async (inputs: string[]): Promise<void> => {
      const files = await listFiles(inputs);
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < files.length) {
          const f = files[next++]!;
          const fh = await open(f, "r");
          let body: Buffer;
          try {
            body = await fh.readFile();
          } finally {
            await fh.close();
          }
          const res = await fetch(`${baseUrl}/instances`, {
            method: "POST",
            headers: { "Content-Type": "application/dicom" },
            body,
          });
          const text = await res.text();
          if (!res.ok)
            throw new Error(`Orthanc upload of ${f}: HTTP ${res.status} ${text.slice(0, 300)}`);
        }
      };
      await Promise.all(Array.from({ length: Math.min(4, files.length) }, worker));
    };

    const peer: OrthancPeer = {
      host: LOOPBACK,
      port,
      httpPort,
      aet,
      dir,
      async stop() {
        if (stopped) return;
        stopped = true;
        await stopServer(t, opts.gracefulStop ? 10_000 : 0);
        await removeTempDir(dir);
      },
      load,
      rest,
    };
    return await loadAtStart(peer, opts.files);
  } catch (e) {
    await removeTempDir(dir).catch(() => {});
    throw e;
  }
}
