/**
 * Bytes as a queue of buffers (socket chunks, or the parts of one PDU),
 * taken from the front as slices without copying: a P-DATA value that
 * spans 64 KiB socket chunks goes to the file as a list of slices of
 * them. Only a piece that must be contiguous and spans two buffers (a
 * 6-byte header, a command set) is copied.
 */
export class ByteQueue {
  private parts: Buffer[] = [];
  /** Index of the first part not yet consumed (parts before it are dropped lazily). */
  private first = 0;
  private size = 0;

  constructor(parts?: readonly Buffer[]) {
    if (parts) for (const p of parts) this.push(p);
  }

  /** Bytes queued. */
  get length(): number {
    return this.size;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.parts.push(chunk);
    this.size += chunk.length;
  }

  /** The first `n` bytes (`n` ≤ length), copied only when they span buffers; the queue is unchanged. */
  peek(n: number): Buffer {
    const head = this.parts[this.first]!;
    if (head.length >= n) return head.subarray(0, n);
    const out = Buffer.allocUnsafe(n);
    let o = 0;
    for (let i = this.first; o < n; i++) {
      const p = this.parts[i]!;
      o += p.copy(out, o, 0, Math.min(p.length, n - o));
    }
    return out;
  }

  /** Remove the first `n` bytes (`n` ≤ length) and return them as slices, in order. */
  takeParts(n: number): Buffer[] {
    const out: Buffer[] = [];
    while (n > 0) {
      const p = this.parts[this.first]!;
      if (p.length <= n) {
        out.push(p);
        this.shift();
        n -= p.length;
        this.size -= p.length;
      } else {
        out.push(p.subarray(0, n));
        this.parts[this.first] = p.subarray(n);
        this.size -= n;
        n = 0;
      }
    }
    return out;
  }

  /** Remove the first `n` bytes (`n` ≤ length) as one buffer (a copy only when they span buffers). */
  take(n: number): Buffer {
    const parts = this.takeParts(n);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  }

  /** Remove the first `n` bytes (`n` ≤ length), keeping none of them (no list, no slices). */
  skip(n: number): void {
    while (n > 0) {
      const p = this.parts[this.first]!;
      if (p.length <= n) {
        this.shift();
        n -= p.length;
        this.size -= p.length;
      } else {
        this.parts[this.first] = p.subarray(n);
        this.size -= n;
        n = 0;
      }
    }
  }

  private shift(): void {
    // The consumed part is released at once: a slice held here keeps its whole chunk alive.
    this.parts[this.first++] = EMPTY;
    if (this.first === this.parts.length) {
      this.parts = [];
      this.first = 0;
    } else if (this.first >= 1024) {
      this.parts = this.parts.slice(this.first);
      this.first = 0;
    }
  }
}

const EMPTY = Buffer.alloc(0);

/** Total length of a list of buffers. */
export function byteLength(parts: readonly Buffer[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}
