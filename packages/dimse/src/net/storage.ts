/**
 * Storage: receiving instances into files (SCP side and C-GET) and sending
 * files (SCU side), streaming in both directions with no re-encoding on
 * pass-through paths.
 */
import {
  closeSync,
  createReadStream,
  existsSync,
  fsyncSync,
  linkSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  unlinkSync,
  writevSync,
} from "node:fs";
import { rm } from "node:fs/promises";
import { Writable } from "node:stream";
import { constants as zlibConstants, inflateRawSync } from "node:zlib";
import { dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import { makeDirs, makeDirsSync } from "../io/dirs.js";
import { decodableSyntax } from "../codec/syntaxes.js";

export { decodableSyntax };
import { buildPart10Prefix, readPart10HeaderSync } from "../dicom/part10.js";
import { encodeDataset, parseHead, parseDataset, type Dataset } from "../dicom/dataset.js";
import { Tags } from "../dicom/dict.js";
import { isUncompressed, syntaxInfo, syntaxName, TransferSyntax } from "../dicom/syntax.js";
import type { Association, AcceptedContext } from "./association.js";
import type { Command } from "./command.js";
import { byteLength } from "./byte-queue.js";
import type { SyncSink } from "./messages.js";
import { CommandField, Priority } from "./command.js";

/** Files up to this size are read in one go when sent. */
const SMALL_FILE = 8 * 1024 * 1024;

/** How many dataset bytes are kept in memory to read the header of a received instance. */
const HEAD_BYTES = 64 * 1024;
/** How many of them are parsed first (enough for most headers). */
const HEAD_FIRST = 8 * 1024;

/**
 * A file sink for one incoming instance: writes the Part 10 prefix, then
 * the dataset bytes exactly as received, keeps the first bytes for the
 * header, optionally fsyncs, and closes on end. The chunks it is given
 * (slices of socket chunks) are written at once; only those of the first
 * 64 KiB are kept, until `headBytes` copies what the header needs and
 * `releaseHead` lets them go. The writes are synchronous: they go to
 * the page cache in microseconds, while a trip through the thread pool
 * per write, close and rename measurably slowed every exchange with a
 * sender waiting for the response.
 */
export class InstanceFileSink extends Writable implements SyncSink {
  readonly tmpPath: string;
  bytes = 0;
  /** The chunks holding the dataset's first 64 KiB (slices of socket chunks: each keeps its chunk). */
  private head: Buffer[] = [];
  private headSize = 0;
  private fd = -1;
  /** Why the file could not be created: the first write or the end fails with it. */
  private openError?: Error;
  private pendingPrefix: Buffer;

  constructor(
    tmpPath: string,
    prefix: Buffer,
    private readonly doFsync: boolean,
  ) {
    super({ highWaterMark: 4 * 1024 * 1024 });
    this.tmpPath = tmpPath;
    this.pendingPrefix = prefix;
    // Opened here rather than in _construct, which a stream runs a tick later and
    // until which it keeps every chunk written: the first values go to the file at once.
    try {
      this.fd = openSync(tmpPath, "w", 0o644);
    } catch (e) {
      this.openError = e as Error;
    }
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    try {
      this.put(chunks.map((c) => c.chunk));
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this._writev([{ chunk }], cb);
  }

  /**
   * The message layer's way in (`SyncSink`): a PDV's slices written at
   * once, without a trip through the stream's queue and its callbacks for
   * every PDV. False when the file cannot be written (the sink is then
   * destroyed with the error, as a failed `write` would leave it).
   */
  writeNow(parts: Buffer[]): boolean {
    if (this.destroyed || this.writableEnded) return false;
    try {
      this.put(parts);
      return true;
    } catch (e) {
      this.destroy(e as Error);
      return false;
    }
  }

  /** Write dataset bytes (after the prefix, the first time), keeping those of the first 64 KiB. */
  private put(parts: Buffer[]): void {
    if (this.fd < 0) throw this.openError ?? new Error("file already closed");
    for (let i = 0; i < parts.length && this.headSize < HEAD_BYTES; i++) {
      this.head.push(parts[i]!);
      this.headSize += parts[i]!.length;
    }
    if (this.pendingPrefix.length) {
      const prefix = this.pendingPrefix;
      this.pendingPrefix = Buffer.alloc(0);
      this.writeAll([prefix, ...parts]);
    } else this.writeAll(parts);
  }

  private writeAll(bufs: Buffer[]): void {
    let rest = bufs;
    while (rest.length) {
      const total = byteLength(rest);
      const written = writevSync(this.fd, rest);
      this.bytes += written;
      if (written >= total) return;
      let skip = written;
      const next: Buffer[] = [];
      for (const b of rest) {
        if (skip >= b.length) {
          skip -= b.length;
          continue;
        }
        next.push(skip ? b.subarray(skip) : b);
        skip = 0;
      }
      rest = next;
    }
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.fd < 0) return cb(this.openError ?? new Error("file already closed"));
    try {
      if (this.pendingPrefix.length) {
        // Empty dataset: still write the prefix.
        this.writeAll([this.pendingPrefix]);
        this.pendingPrefix = Buffer.alloc(0);
      }
      if (this.doFsync) fsyncSync(this.fd);
      const fd = this.fd;
      this.fd = -1;
      closeSync(fd);
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.fd >= 0) {
      try {
        closeSync(this.fd);
      } catch {
        // already closed
      }
      this.fd = -1;
    }
    cb(err);
  }

  /** Bytes of the dataset's beginning kept for `headBytes`: 64 KiB, or all of a smaller one. */
  get headLength(): number {
    return Math.min(this.headSize, HEAD_BYTES);
  }

  /** A copy of the received dataset's first `n` bytes (at most `headLength`). */
  headBytes(n = HEAD_BYTES): Buffer {
    return Buffer.concat(this.head, Math.min(n, this.headLength));
  }

  /** Let go of the kept chunks (and the socket chunks they are slices of). */
  releaseHead(): void {
    this.head = [];
  }
}

export interface ReceivedInstance {
  tmpPath: string;
  /** File size (prefix + dataset). */
  bytes: number;
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntax: string;
  callingAet: string;
  calledAet: string;
  /** Top-level attributes before Pixel Data, as far as the first 64 KiB reach. */
  head: Dataset;
  /** C-MOVE sub-operations name the request they belong to (when the archive says). */
  moveOriginatorAet?: string;
  moveOriginatorMessageId?: number;
}

export interface ReceiverOptions {
  /** Directory for temporary files; must be on the same file system as the final files. */
  tmpDir: string;
  fsync?: boolean;
}

/** Creates sinks for incoming C-STOREs and describes what was received. */
export class FileReceiver {
  private seq = 0;
  private readonly prefix = `${process.pid}-${randomBytes(4).toString("hex")}`;
  private dirReady?: Promise<unknown>;

  constructor(readonly o: ReceiverOptions) {}

  open(cmd: Command, ctx: AcceptedContext, assoc: Association): InstanceFileSink {
    const tmp = join(this.o.tmpDir, `${this.prefix}-${++this.seq}.part`);
    const prefix = buildPart10Prefix({
      sopClassUID: cmd.affectedSopClassUid ?? "",
      sopInstanceUID: cmd.affectedSopInstanceUid ?? "",
      transferSyntax: ctx.transferSyntax,
      sourceAet: assoc.rq?.callingAet,
    });
    return new InstanceFileSink(tmp, prefix, this.o.fsync ?? false);
  }

  async ensureTmpDir(): Promise<void> {
    this.dirReady ??= makeDirs(this.o.tmpDir);
    await this.dirReady;
  }

  /** Describe a finished sink. */
  describe(
    sink: InstanceFileSink,
    cmd: Command,
    ctx: AcceptedContext,
    assoc: Association,
  ): ReceivedInstance {
    const info = syntaxInfo(ctx.transferSyntax);
    let head: Dataset;
    if (info.deflated) {
      // Deflated data: inflate what the first bytes hold (a partial stream is fine).
      const bytes = inflateRawSync(sink.headBytes(), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
      head = parseHead(bytes, info.explicit, info.little, Tags.PixelData).dataset;
    } else {
      // The attributes before Pixel Data mostly fit in a few KiB: the 64 KiB are copied only
      // when they do not. The first bytes may end inside an element: the head holds those before it.
      let r = parseHead(sink.headBytes(HEAD_FIRST), info.explicit, info.little, Tags.PixelData);
      if (!r.stopped && sink.headLength > HEAD_FIRST)
        r = parseHead(sink.headBytes(), info.explicit, info.little, Tags.PixelData);
      head = r.dataset;
    }
    sink.releaseHead();
    return {
      tmpPath: sink.tmpPath,
      bytes: sink.bytes,
      sopClassUid: cmd.affectedSopClassUid ?? "",
      sopInstanceUid: cmd.affectedSopInstanceUid ?? "",
      transferSyntax: ctx.transferSyntax,
      callingAet: assoc.rq?.callingAet ?? "",
      calledAet: assoc.rq?.calledAet ?? "",
      head,
      moveOriginatorAet: cmd.moveOriginatorAet,
      moveOriginatorMessageId: cmd.moveOriginatorMessageId,
    };
  }
}

const knownDirs = new Set<string>();

function ensureDir(dir: string): void {
  if (knownDirs.has(dir)) return;
  makeDirsSync(dir);
  if (knownDirs.size > 10000) knownDirs.clear();
  knownDirs.add(dir);
}

/** The SOP Instance UID of an existing file, read synchronously (undefined if unreadable). */
function instanceOf(path: string): string | undefined {
  try {
    return readPart10HeaderSync(path).sopInstanceUID;
  } catch {
    return undefined;
  }
}

/**
 * Move a finished temporary file into place. Creates the directory. When
 * the target exists: the same SOP instance is replaced (as DCMTK does);
 * a different instance is never overwritten — a numbered name is used.
 * Returns the final path and whether an existing file was replaced.
 * Synchronous (see InstanceFileSink); a hard link claims a free name
 * atomically, so two receivers never take the same one.
 */
export async function placeFile(
  tmp: string,
  target: string,
  sopInstanceUid: string,
): Promise<{ path: string; replaced: boolean; renamed: boolean }> {
  ensureDir(dirname(target));
  let path = target;
  for (let n = 1; ; n++) {
    let exists = false;
    try {
      linkSync(tmp, path);
      unlinkSync(tmp);
      return { path, replaced: false, renamed: path !== target };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EEXIST") exists = true;
      else if (
        code === "EPERM" ||
        code === "ENOTSUP" ||
        code === "EOPNOTSUPP" ||
        code === "EMLINK" ||
        code === "EXDEV"
      ) {
        // No hard links here: check, then rename.
        exists = existsSync(path);
        if (!exists) {
          renameSync(tmp, path);
          return { path, replaced: false, renamed: path !== target };
        }
      } else if (code === "ENOENT" && !existsSync(dirname(path))) {
        knownDirs.delete(dirname(path));
        ensureDir(dirname(path));
        n--;
        continue;
      } else throw e;
    }
    if (exists && instanceOf(path) === sopInstanceUid) {
      renameSync(tmp, path);
      return { path, replaced: true, renamed: path !== target };
    }
    const dot = target.lastIndexOf(".");
    const slash = target.lastIndexOf("/");
    path =
      dot > slash + 1 && /\.[A-Za-z]{2,4}$/.test(target)
        ? `${target.slice(0, dot)}_${n}${target.slice(dot)}`
        : `${target}_${n}`;
  }
}

export async function discard(tmp: string): Promise<void> {
  await rm(tmp, { force: true });
}

// ---------------------------------------------------------------- sending

/** What is needed to send a file (kept small: lists of many files hold these). */
export interface FileHeader {
  sopClassUID: string;
  sopInstanceUID: string;
  transferSyntax: string;
  datasetOffset: number;
  size: number;
}

export interface FileToSend {
  path: string;
  header: FileHeader;
}

/** Read the header of a file to send (throws NotDicomError for non-DICOM files). */
export async function fileToSend(path: string): Promise<FileToSend> {
  const h = readPart10HeaderSync(path);
  if (!h.sopClassUID || !h.sopInstanceUID)
    throw new StoreError(`${path}: no SOP Class UID or SOP Instance UID`);
  return {
    path,
    header: {
      sopClassUID: h.sopClassUID,
      sopInstanceUID: h.sopInstanceUID,
      transferSyntax: h.transferSyntax,
      datasetOffset: h.datasetOffset,
      size: h.size,
    },
  };
}

export class StoreError extends Error {
  /** `dimseTimeout`: no response in time; the association is then unusable. */
  constructor(
    message: string,
    readonly dimseTimeout = false,
  ) {
    super(message);
    this.name = "StoreError";
  }
}

/**
 * A buffer reused from one file to the next by a sender that waits for each
 * C-STORE response (by then the previous file's bytes have left), sparing
 * an allocation and its garbage collection per file.
 */
export interface ScratchBuffer {
  buf?: Buffer;
}

/**
 * The dataset of a file in the accepted transfer syntax: streamed raw
 * when the syntaxes match, transcoded in memory between uncompressed
 * syntaxes otherwise; compressed data is never decoded.
 */
export async function datasetStream(
  file: FileToSend,
  acceptedTs: string,
  scratch?: ScratchBuffer,
): Promise<Buffer | AsyncIterable<Buffer>> {
  const fileTs = file.header.transferSyntax;
  if (fileTs === acceptedTs) {
    const odd =
      syntaxInfo(fileTs).deflated && (file.header.size - file.header.datasetOffset) % 2 === 1;
    if (file.header.size <= SMALL_FILE) {
      // Small files in one read; large ones are streamed with back-pressure.
      const data = readWhole(file.path, file.header.size, scratch).subarray(
        file.header.datasetOffset,
      );
      return odd ? Buffer.concat([data, Buffer.from([0])]) : data;
    }
    const stream = createReadStream(file.path, {
      start: file.header.datasetOffset,
      highWaterMark: 1024 * 1024,
    }) as AsyncIterable<Buffer>;
    // PS3.5 A.5: a deflated stream of odd length is padded with one NUL; peers reject odd fragments.
    if (odd) return padded(stream);
    return stream;
  }
  const from = syntaxInfo(fileTs);
  const to = syntaxInfo(acceptedTs);
  if (to.encapsulated) {
    throw new StoreError(
      `cannot convert ${fileTs} to ${acceptedTs}: compressed transfer syntaxes are sent as they are (the peer accepted only ${acceptedTs})`,
    );
  }
  const buf = readFileSync(file.path);
  const data = buf.subarray(file.header.datasetOffset);
  if (from.encapsulated) {
    // Decoded (storescu-ts --decompress): the codec module is imported only here.
    const { decodeDataset } = await import("../codec/index.js");
    try {
      return encodeDataset(await decodeDataset(data, fileTs), acceptedTs);
    } catch (e) {
      throw new StoreError(`cannot decode ${syntaxName(fileTs)}: ${(e as Error).message}`);
    }
  }
  const ds = parseDataset(data, fileTs);
  return encodeDataset(ds, acceptedTs, from.little);
}

function readWhole(path: string, size: number, scratch?: ScratchBuffer): Buffer {
  if (!scratch) return readFileSync(path);
  if (!scratch.buf || scratch.buf.length < size)
    scratch.buf = Buffer.allocUnsafe(Math.max(size, 1024 * 1024));
  const fd = openSync(path, "r");
  try {
    let off = 0;
    while (off < size) {
      const n = readSync(fd, scratch.buf, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    return scratch.buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

async function* padded(stream: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  yield* stream;
  yield Buffer.from([0]);
}

export interface StoreOutcome {
  status: number;
  command: Command;
}

/** One C-STORE of a file on an established association. */
export async function storeFile(
  assoc: Association,
  file: FileToSend,
  pc: AcceptedContext,
  o: {
    dimseTimeoutMs?: number;
    priority?: number;
    moveOriginator?: { aet: string; messageId: number };
    scratch?: ScratchBuffer;
  } = {},
): Promise<StoreOutcome> {
  const data = await datasetStream(file, pc.transferSyntax, o.scratch);
  const id = assoc.allocateMessageId();
  const result = new Promise<StoreOutcome>((resolve, reject) => {
    const cancel = assoc.idleTimeout(o.dimseTimeoutMs, () => {
      assoc.stopExpecting(id);
      reject(new StoreError("DIMSE No data available (timeout in non-blocking mode)", true));
    });
    assoc.expectResponses(id, {
      message: (m) => {
        cancel();
        assoc.stopExpecting(id);
        resolve({ status: m.command.status ?? 0xffff, command: m.command });
      },
      error: (e) => {
        cancel();
        reject(e);
      },
    });
  });
  result.catch(() => undefined);
  await assoc.sendMessage(
    pc.id,
    {
      commandField: CommandField.CStoreRQ,
      messageId: id,
      affectedSopClassUid: file.header.sopClassUID,
      affectedSopInstanceUid: file.header.sopInstanceUID,
      priority: o.priority ?? Priority.Medium,
      hasDataset: true,
      ...(o.moveOriginator
        ? {
            moveOriginatorAet: o.moveOriginator.aet,
            moveOriginatorMessageId: o.moveOriginator.messageId,
          }
        : {}),
    },
    data,
  );
  return result;
}

/**
 * Pick the best accepted context for a file: its own syntax, else one we
 * can transcode to. A compressed file is sent as it is, unless `decode`
 * says it may be decoded (`auto`: when the peer accepted none of its
 * compressed syntax; `always`: always) and we can decode its syntax.
 */
export function contextForFile(
  assoc: Association,
  file: FileToSend,
  decode: "never" | "auto" | "always" = "never",
): AcceptedContext | undefined {
  const own = file.header.transferSyntax;
  const uncompressed = [
    TransferSyntax.ExplicitVRLittleEndian,
    TransferSyntax.ImplicitVRLittleEndian,
    TransferSyntax.ExplicitVRBigEndian,
  ];
  const info = syntaxInfo(own);
  const decodable = info.encapsulated && decode !== "never" && decodableSyntax(own);
  const prefer =
    isUncompressed(own) || own === TransferSyntax.DeflatedExplicitVRLittleEndian
      ? [own, ...uncompressed, TransferSyntax.DeflatedExplicitVRLittleEndian]
      : decodable
        ? decode === "always"
          ? uncompressed
          : [own, ...uncompressed]
        : [own];
  const pc = assoc.contextFor(file.header.sopClassUID, prefer);
  if (!pc) return undefined;
  return prefer.includes(pc.transferSyntax) ? pc : undefined;
}
