/**
 * Worker threads for a batch tool's `-j N`: one thread per association, so
 * that N associations use more than one core (reading files, preparing
 * datasets, the socket writes) instead of sharing one event loop.
 *
 * The main thread keeps the input, the pacing (`runBatch` hands each
 * request to `WorkerPool.run`), the result records, the exit status and the
 * signals; a worker gets one request at a time and answers with its result.
 * Its log lines go through the main thread's logger. On SIGINT/SIGTERM the
 * pool passes the abort on; `close` lets each worker end its association
 * (release or abort, as the tool does) and waits for every thread to exit.
 *
 * A worker runs the tool's own bundle (or, from sources, the module that
 * calls `serveWorker`): `serveWorker(entry, …)` at the top level of a module
 * the tool imports does nothing in the main thread and serves the requests
 * in a worker started for `entry`.
 */
import { availableParallelism } from "node:os";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import type { CliLogger } from "../cli/logger.js";
import type { LogLevel } from "../net/logger.js";

type ToWorker<I> =
  | { type: "data"; data: unknown }
  | { type: "run"; id: number; lane: number; item: I }
  | { type: "abort"; reason: unknown }
  | { type: "halt" }
  | { type: "close" };

type FromWorker<R> =
  | { type: "done"; id: number; result?: R }
  | { type: "failed"; id: number; message: string; stack?: string }
  | { type: "log"; level: LogLevel | "lines"; text: string; letter?: string; lines?: string[] }
  | { type: "closed" };

interface Data {
  entry: string;
  level: LogLevel;
  /** The module the thread runs (scripts/*-worker.* load it). */
  module: string;
}

/** Set in a pool's threads to the `serveWorker` entry they serve. */
const WORKER_ENV = "DICOM_PIPES_WORKER_ENTRY";

/**
 * The script a worker thread starts with to run `module`: a tool's bundle
 * (packages/<tool>/dist/) through the bins' launcher, without its main; a
 * source module (tests run under tsx, whose loader a thread does not get)
 * through tsx's API; any other module itself.
 */
function workerScript(module: URL): URL {
  if (module.pathname.endsWith(".bundle.cjs"))
    return new URL("../../dimse/scripts/bundle-worker.cjs", module);
  if (module.pathname.endsWith(".ts"))
    return new URL("../../scripts/ts-worker.mjs", import.meta.url);
  return module;
}

/** What a worker does with the requests it is given, one at a time. */
export interface WorkerHandler<I, R> {
  /** The request's result; undefined: not started (the run was halted or aborted meanwhile). */
  run(item: I): Promise<R | undefined>;
  /** The run is over: end what is open (the association). */
  close(): Promise<void>;
  /** In a worker: the result halts the run (the requests waiting there are not started). */
  halts?(result: R): boolean;
}

export interface WorkerContext {
  /** Writes through the main thread's logger (at its level). */
  log: CliLogger;
  /** Aborted when the main thread gets SIGINT/SIGTERM. */
  signal: AbortSignal;
}

/**
 * In a worker started by a `WorkerPool` for `entry`: serve its requests
 * with the handler `start` makes from the pool's data. Anywhere else
 * (the main thread, another entry): nothing.
 */
export function serveWorker<D, I, R>(
  entry: string,
  start: (data: D, ctx: WorkerContext) => WorkerHandler<I, R>,
): void {
  // Told from the environment first: node:worker_threads is not loaded by a run
  // that starts no thread (every --help).
  if (process.env[WORKER_ENV] !== entry) return;
  const wd = workerData as Data | undefined;
  if (isMainThread || !parentPort || wd?.entry !== entry) return;
  const port = parentPort;
  const post = (m: FromWorker<R>) => port.postMessage(m);
  const ctrl = new AbortController();
  const ctx = { log: workerLogger(wd.level, post), signal: ctrl.signal };
  // The pool's data comes first, before any request.
  let data: D;
  const lanes = new Lanes<I, R>(() => start(data, ctx));
  port.on("message", (m: ToWorker<I>) => {
    if (m.type === "data") return void (data = m.data as D);
    if (m.type === "abort" || m.type === "halt") {
      lanes.halt();
      if (m.type === "abort") ctrl.abort(m.reason);
      return;
    }
    if (m.type === "close") {
      void lanes.close().then(() => {
        post({ type: "closed" });
        port.close();
      });
      return;
    }
    lanes.run(m.lane, m.item).then(
      (result) => post({ type: "done", id: m.id, result }),
      (e) => {
        const err = e as Error;
        post({ type: "failed", id: m.id, message: err?.message ?? String(e), stack: err?.stack });
      },
    );
  });
}

/**
 * The lanes of one thread (a worker's, or the main thread's with no
 * workers): a handler per lane (association), made on its first request,
 * its requests one after another.
 */
class Lanes<I, R> {
  private readonly lanes = new Map<
    number,
    { handler: WorkerHandler<I, R>; queue: Promise<unknown> }
  >();
  private halted = false;

  constructor(private readonly make: () => WorkerHandler<I, R>) {}

  /** The request's result; undefined when the run was halted before it started. */
  run(id: number, item: I): Promise<R | undefined> {
    let lane = this.lanes.get(id);
    if (!lane) this.lanes.set(id, (lane = { handler: this.make(), queue: Promise.resolve() }));
    const { handler } = lane;
    const done = lane.queue.then(async () => {
      if (this.halted) return undefined;
      const result = await handler.run(item);
      // A result that halts the run: this thread starts nothing more.
      if (result !== undefined && handler.halts?.(result)) this.halted = true;
      return result;
    });
    lane.queue = done.catch(() => undefined);
    return done;
  }

  /** Requests waiting behind the ones in hand are not started. */
  halt(): void {
    this.halted = true;
  }

  /** Each lane closes what it holds open, after the request in hand. */
  async close(): Promise<void> {
    await Promise.all(
      [...this.lanes.values()].map((l) =>
        l.queue.then(() => l.handler.close()).catch(() => undefined),
      ),
    );
  }
}

const ORDER: LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace"];

/** A logger that hands its lines to the main thread's. */
function workerLogger(level: LogLevel, post: (m: FromWorker<never>) => void): CliLogger {
  const line = (l: LogLevel) => (text: string) => {
    if (log.enabled(l)) post({ type: "log", level: l, text });
  };
  const log: CliLogger = {
    tool: "",
    level,
    enabled: (l) => ORDER.indexOf(l) <= ORDER.indexOf(log.level),
    fatal: line("fatal"),
    error: line("error"),
    warn: line("warn"),
    info: line("info"),
    debug: line("debug"),
    trace: line("trace"),
    dcmtkLines: (letter, lines) => post({ type: "log", level: "lines", text: "", letter, lines }),
    raw: () => undefined,
    flush: () => undefined,
  };
  return log;
}

export interface WorkerPoolOptions<D, I = unknown, R = unknown> {
  /** The module the workers run: the tool's bundle, or the source module calling `serveWorker`. */
  url: URL;
  /** The `serveWorker` entry name. */
  entry: string;
  /**
   * Handed to each worker's `start` (structured-cloned); a promise lets the
   * threads start (`start()`) while the main thread is still working it out.
   */
  data: D | Promise<D>;
  /** Lanes: requests at once, each lane one association. */
  size: number;
  /**
   * Worker threads the lanes share (default: `defaultThreads(size)`); at
   * least one, unless `local` is given: 0 runs the lanes in this thread.
   */
  threads?: number;
  /**
   * With no threads: the handler of each lane, made in this thread (as
   * `serveWorker`'s `start` is in a worker), the requests handed to it at once.
   */
  local?: (data: D, ctx: WorkerContext) => WorkerHandler<I, R>;
  /**
   * Requests given to a lane at once (default 2): the next one waits in the
   * thread, so that a lane never idles until the main thread gets round to
   * handing it one. `capacity` is what the pool takes at once.
   */
  depth?: number;
  log: CliLogger;
  signal?: AbortSignal;
}

interface Thread<R> {
  worker?: Worker;
  /** The data has been posted: requests may follow. */
  ready?: Promise<void>;
  pending: Map<
    number,
    { resolve: (r: R | undefined) => void; reject: (e: Error) => void; lane: Lane<R> }
  >;
  exited: Promise<void>;
  gone: boolean;
}

interface Lane<R> {
  id: number;
  /** None: the lane runs in this thread (`local`). */
  thread?: Thread<R>;
}

/** The environment variable that sets the worker threads of a `-j` run (0: none). */
export const THREADS_ENV = "DICOM_PIPES_THREADS";

/**
 * Worker threads for `lanes` requests at once: `$DICOM_PIPES_THREADS`
 * when set, else one per core but the main thread's (which keeps the
 * input, the records and the pacing), at most one per lane; and none
 * (0: the lanes stay in the main thread) when that leaves fewer than two,
 * as one thread sends no faster than the main thread and costs its
 * start-up and a message per request.
 */
export function defaultThreads(lanes: number, env: NodeJS.ProcessEnv = {}): number {
  const set = env[THREADS_ENV];
  if (set !== undefined && /^\d+$/.test(set)) return Math.min(lanes, Number(set));
  const n = Math.min(lanes, availableParallelism() - 1);
  return n >= 2 ? n : 0;
}

/**
 * Worker threads for a tool whose main thread works beside them (a batch of
 * files, charts): `$DICOM_PIPES_THREADS` when set, else one per other core;
 * at most `max`.
 */
export function helperThreads(max: number, env: NodeJS.ProcessEnv = {}): number {
  const set = env[THREADS_ENV];
  if (set !== undefined && /^\d+$/.test(set)) return Math.min(max, Number(set));
  return Math.max(0, Math.min(max, availableParallelism() - 1));
}

/**
 * `size` lanes, each running one request at a time, spread over worker
 * threads started as the lanes are first used (or, with no threads and
 * `local`, in this thread).
 */
export class WorkerPool<D, I, R> implements WorkerHandler<I, R> {
  private readonly threads: Thread<R>[] = [];
  private readonly idle: Lane<R>[] = [];
  private nextId = 0;
  /** The lanes in this thread (no threads, `local`), and the data their handlers are made from. */
  private readonly here?: Lanes<I, R>;
  private data?: D;
  private readonly onAbort = () => {
    this.here?.halt();
    for (const t of this.threads)
      if (t.worker && !t.gone)
        t.worker.postMessage({
          type: "abort",
          reason: this.o.signal?.reason,
        } satisfies ToWorker<I>);
  };

  constructor(private readonly o: WorkerPoolOptions<D, I, R>) {
    o.signal?.addEventListener("abort", this.onAbort, { once: true });
    const threads = Math.min(o.size, o.threads ?? defaultThreads(o.size));
    const local = o.local;
    if (threads === 0 && local) {
      const ctx = { log: o.log, signal: o.signal ?? new AbortController().signal };
      this.here = new Lanes(() => local(this.data as D, ctx));
      for (let id = o.size - 1; id >= 0; id--) this.idle.push({ id });
      return;
    }
    for (let k = 0; k < Math.max(1, threads); k++)
      this.threads.push({ pending: new Map(), exited: Promise.resolve(), gone: false });
    // Lanes are taken last-in first-out: the first ones listed last; each as often as its depth.
    for (let d = 0; d < this.depth; d++)
      for (let id = o.size - 1; id >= 0; id--)
        this.idle.push({ id, thread: this.threads[id % this.threads.length]! });
  }

  /** In this thread a request is handed over at once: one at a time per lane. */
  private get depth(): number {
    return this.here ? 1 : Math.max(1, this.o.depth ?? 2);
  }

  /** Requests the pool takes at once: lanes × depth. */
  get capacity(): number {
    return this.o.size * this.depth;
  }

  /** Requests not yet started are dropped (answered undefined); those in hand finish. */
  halt(): void {
    this.here?.halt();
    for (const t of this.threads)
      if (t.worker && !t.gone) t.worker.postMessage({ type: "halt" } satisfies ToWorker<I>);
  }

  /** Start every thread now (their start-up overlaps the main thread's work until the first request). */
  start(): void {
    for (const t of this.threads) this.thread(t);
  }

  /** Run one request on an idle lane. */
  async run(item: I): Promise<R | undefined> {
    const lane = this.idle.pop();
    if (!lane) throw new Error("worker pool: no idle lane");
    const t = lane.thread;
    if (!t) return this.runHere(lane, item);
    const worker = this.thread(t);
    await t.ready;
    if (t.gone) {
      this.idle.push(lane);
      throw new Error("worker thread gone");
    }
    const id = this.nextId++;
    return new Promise<R | undefined>((resolve, reject) => {
      t.pending.set(id, { resolve, reject, lane });
      worker.postMessage({ type: "run", id, lane: lane.id, item } satisfies ToWorker<I>);
    });
  }

  /** A request on a lane of this thread. */
  private async runHere(lane: Lane<R>, item: I): Promise<R | undefined> {
    try {
      this.data ??= await this.o.data;
      return await this.here!.run(lane.id, item);
    } finally {
      this.idle.push(lane);
    }
  }

  /** End the run: each lane closes what it holds open; waits for every thread to exit. */
  async close(): Promise<void> {
    await this.here?.close();
    for (const t of this.threads)
      if (t.worker && !t.gone) t.worker.postMessage({ type: "close" } satisfies ToWorker<I>);
    await Promise.all(this.threads.map((t) => t.exited));
    // Until every thread is done closing, a signal still reaches them (a release never answered).
    this.o.signal?.removeEventListener("abort", this.onAbort);
  }

  /** The thread's worker, started on first use. */
  private thread(t: Thread<R>): Worker {
    if (t.worker) return t.worker;
    const url = this.o.url;
    const wd: Data = { entry: this.o.entry, level: this.o.log.level, module: url.href };
    const worker = new Worker(workerScript(url), {
      workerData: wd,
      env: { ...process.env, [WORKER_ENV]: this.o.entry },
    });
    t.worker = worker;
    // No data (the main thread gave up before the first request): the thread is only closed.
    t.ready = Promise.resolve(this.o.data).then(
      (data) => {
        if (!t.gone) worker.postMessage({ type: "data", data } satisfies ToWorker<I>);
      },
      () => undefined,
    );
    t.exited = new Promise<void>((resolve) => {
      worker.once("exit", (code) => {
        this.lost(t, new Error(`worker thread exited (${code})`));
        resolve();
      });
    });
    worker.on("error", (e) => this.lost(t, e));
    worker.on("message", (m: FromWorker<R>) => {
      if (m.type === "log") this.log(m);
      else if (m.type === "done" || m.type === "failed") {
        const p = t.pending.get(m.id);
        if (!p) return;
        t.pending.delete(m.id);
        this.idle.push(p.lane);
        if (m.type === "done") p.resolve(m.result);
        else {
          const e = new Error(m.message);
          if (m.stack) e.stack = m.stack;
          p.reject(e);
        }
      }
    });
    return worker;
  }

  /** A thread that died: its requests fail, its lanes take no more. */
  private lost(t: Thread<R>, e: Error): void {
    t.gone = true;
    for (const p of t.pending.values()) {
      this.idle.push(p.lane);
      p.reject(e);
    }
    t.pending.clear();
  }

  private log(m: Extract<FromWorker<R>, { type: "log" }>): void {
    const log = this.o.log;
    if (m.level === "lines") log.dcmtkLines(m.letter ?? "I", m.lines ?? []);
    else log[m.level](m.text);
  }
}
