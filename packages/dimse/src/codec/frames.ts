/**
 * Encapsulated pixel data (PS3.5 A.4): the fragments of each frame, from
 * the Extended Offset Table, the Basic Offset Table, one fragment per
 * frame, or (an empty table and more fragments than frames) the codec's
 * start-of-frame marker at the start of a fragment.
 */
/** A compressed image that cannot be decoded: the file is not written. */
export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DecodeError";
  }
}

/** A fragment begins a compressed frame: JPEG and JPEG-LS SOI, a J2K codestream (SOC) or JP2 box. */
export type FrameStart = (fragment: Buffer) => boolean;

/**
 * The compressed bytes of each frame. `fragments[0]` is the Basic Offset
 * Table; `eot` the Extended Offset Table (7FE0,0001), when present.
 */
export function splitFrames(
  fragments: Buffer[],
  frames: number,
  o: { eot?: Buffer; startsFrame?: FrameStart } = {},
): Buffer[] {
  const bot = fragments[0];
  const items = fragments.slice(1);
  if (bot === undefined || items.length === 0)
    throw new DecodeError("encapsulated pixel data holds no fragments");
  if (frames === 1) return [items.length === 1 ? items[0]! : Buffer.concat(items)];
  let offsets: number[] | undefined;
  if (o.eot && o.eot.length >= frames * 8) {
    offsets = [];
    for (let i = 0; i < frames; i++) offsets.push(Number(o.eot.readBigUInt64LE(i * 8)));
  } else if (bot.length >= frames * 4) {
    offsets = [];
    for (let i = 0; i < frames; i++) offsets.push(bot.readUInt32LE(i * 4));
  }
  if (offsets) {
    // Offsets count from the first fragment's item tag: map them to fragment indices.
    const startOf = new Map<number, number>();
    let pos = 0;
    items.forEach((it, i) => {
      startOf.set(pos, i);
      pos += 8 + it.length;
    });
    const first: number[] = [];
    for (let i = 0; i < frames; i++) {
      const idx = startOf.get(offsets[i]!);
      if (idx === undefined || (i > 0 && idx <= first[i - 1]!))
        throw new DecodeError(
          `offset table entry ${i + 1} (${offsets[i]}) does not point at a fragment after the previous frame's`,
        );
      first.push(idx);
    }
    return first.map((s, i) => join(items.slice(s, i + 1 < frames ? first[i + 1] : items.length)));
  }
  if (items.length === frames) return items;
  if (o.startsFrame && items.length > frames) {
    const out: Buffer[][] = [];
    for (const it of items) {
      if (out.length === 0 || o.startsFrame(it)) out.push([it]);
      else out[out.length - 1]!.push(it);
    }
    if (out.length === frames) return out.map(join);
  }
  throw new DecodeError(
    `${items.length} fragments for ${frames} frames and no offset table: cannot tell the frames apart`,
  );
}

function join(parts: Buffer[]): Buffer {
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** JPEG (ISO 10918) and JPEG-LS streams start with SOI. */
export const jpegStart: FrameStart = (b) => b.length >= 2 && b[0] === 0xff && b[1] === 0xd8;
/** A J2K codestream starts with SOC and SIZ; a JP2 file with its signature box. */
export const j2kStart: FrameStart = (b) =>
  (b.length >= 4 && b[0] === 0xff && b[1] === 0x4f && b[2] === 0xff && b[3] === 0x51) ||
  (b.length >= 8 && b.toString("latin1", 4, 8) === "jP  ");
