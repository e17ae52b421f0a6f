/**
 * Specific Character Set (0008,0005) handling: decoding text values to
 * JavaScript strings and encoding strings back to bytes.
 */

type Decoder = (buf: Uint8Array) => string;

/** `b` as a Buffer: element values already are one (a view of it costs an object per value). */
const asBuffer = (b: Uint8Array): Buffer =>
  b instanceof Buffer ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
const latin1: Decoder = (b) => asBuffer(b).toString("latin1");
const utf8: Decoder = (b) => asBuffer(b).toString("utf8");

const decoders = new Map<string, Decoder>([
  ["latin1", latin1],
  ["utf8", utf8],
]);

/** The decoder for an encoding label, made once (latin1 where this Node lacks the encoding). */
function decoder(label: string): Decoder {
  let d = decoders.get(label);
  if (!d) {
    try {
      const td = new TextDecoder(label);
      d = (b) => td.decode(b);
    } catch {
      d = latin1;
    }
    decoders.set(label, d);
  }
  return d;
}

/** Encodings of the character sets named `ISO_IR n` and `ISO 2022 IR n`, by n. */
const BY_IR: Record<string, string> = {
  "6": "latin1",
  "100": "latin1",
  "101": "iso-8859-2",
  "109": "iso-8859-3",
  "110": "iso-8859-4",
  "144": "iso-8859-5",
  "127": "iso-8859-6",
  "126": "iso-8859-7",
  "138": "iso-8859-8",
  "148": "iso-8859-9",
  "203": "iso-8859-15",
  "13": "shift_jis",
  "166": "windows-874",
};

const named = (prefix: string) =>
  Object.fromEntries(Object.entries(BY_IR).map(([n, label]) => [prefix + n, label]));

/** Single-byte and multi-byte character sets without code extensions. */
const SINGLE: Record<string, string> = {
  "": "latin1",
  ...named("ISO_IR "),
  "ISO_IR 192": "utf8",
  GB18030: "gb18030",
  GBK: "gbk",
};

/** Code-extension (ISO 2022) terms mapped to the encoding of their G0/G1 set. */
const ISO2022: Record<string, string> = {
  ...named("ISO 2022 IR "),
  "ISO 2022 IR 87": "iso-2022-jp",
  "ISO 2022 IR 159": "iso-2022-jp",
  "ISO 2022 IR 149": "euc-kr",
  "ISO 2022 IR 58": "gbk",
};

export interface Charset {
  decode: Decoder;
  /** True when the set is a superset of ASCII with 1:1 byte↔char mapping for ASCII. */
  isUtf8: boolean;
  isLatin1: boolean;
}

const cache = new Map<string, Charset>();

export const DEFAULT_CHARSET: Charset = { decode: latin1, isUtf8: false, isLatin1: true };

/** Build a charset from the values of Specific Character Set. */
export function charsetFor(terms: string[] | undefined): Charset {
  if (!terms || terms.length === 0 || (terms.length === 1 && (terms[0] ?? "").trim() === ""))
    return DEFAULT_CHARSET;
  const norm = terms.map((t) =>
    t
      .trim()
      .toUpperCase()
      .replace(/^ISO_IR_/, "ISO_IR "),
  );
  const key = norm.join("\\");
  const hit = cache.get(key);
  if (hit) return hit;
  let cs: Charset;
  const isExtension = norm.some((t) => t.startsWith("ISO 2022"));
  if (!isExtension) {
    const first = norm[0] ?? "";
    cs = {
      decode: decoder(SINGLE[first] ?? "latin1"),
      isUtf8: first === "ISO_IR 192",
      isLatin1: first === "ISO_IR 100" || first === "",
    };
  } else {
    cs = { decode: iso2022Decoder(norm), isUtf8: false, isLatin1: false };
  }
  cache.set(key, cs);
  return cs;
}

/** Escape sequences designating character sets in ISO 2022 text. */
const ESCAPES: Array<[number[], string]> = [
  [[0x28, 0x42], "ISO 2022 IR 6"],
  [[0x2d, 0x41], "ISO 2022 IR 100"],
  [[0x2d, 0x42], "ISO 2022 IR 101"],
  [[0x2d, 0x43], "ISO 2022 IR 109"],
  [[0x2d, 0x44], "ISO 2022 IR 110"],
  [[0x2d, 0x4c], "ISO 2022 IR 144"],
  [[0x2d, 0x47], "ISO 2022 IR 127"],
  [[0x2d, 0x46], "ISO 2022 IR 126"],
  [[0x2d, 0x48], "ISO 2022 IR 138"],
  [[0x2d, 0x4d], "ISO 2022 IR 148"],
  [[0x2d, 0x62], "ISO 2022 IR 203"],
  [[0x29, 0x49], "ISO 2022 IR 13"],
  [[0x28, 0x4a], "ISO 2022 IR 13"],
  [[0x2d, 0x54], "ISO 2022 IR 166"],
  [[0x24, 0x42], "ISO 2022 IR 87"],
  [[0x24, 0x28, 0x44], "ISO 2022 IR 159"],
  [[0x24, 0x29, 0x43], "ISO 2022 IR 149"],
  [[0x24, 0x29, 0x41], "ISO 2022 IR 58"],
];

function iso2022Decoder(terms: string[]): Decoder {
  const initial = terms[0] && ISO2022[terms[0]] ? terms[0] : "ISO 2022 IR 6";
  const jis = decoder("iso-2022-jp");
  const initialDecoder = decoder(ISO2022[initial]!);
  return (b) => {
    if (!b.includes(0x1b)) return initialDecoder(b);
    // Japanese: the WHATWG iso-2022-jp decoder understands the escapes itself.
    const text = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");
    if (/\x1b\$B|\x1b\$\(D|\x1b\(J/.test(text) && !/\x1b\$\)[AC]/.test(text)) {
      // Half-width katakana (ISO IR 13) in G1 is not understood by iso-2022-jp: decode per segment.
      if (!/\x1b\)I/.test(text)) return jis(b);
    }
    let out = "";
    let current = initial;
    let i = 0;
    let start = 0;
    const flush = (end: number) => {
      if (end > start) {
        const seg = b.subarray(start, end);
        const name = current;
        if (name === "ISO 2022 IR 87" || name === "ISO 2022 IR 159") {
          out += jis(
            Buffer.concat([
              Buffer.from(
                name === "ISO 2022 IR 87" ? [0x1b, 0x24, 0x42] : [0x1b, 0x24, 0x28, 0x44],
              ),
              seg,
              Buffer.from([0x1b, 0x28, 0x42]),
            ]),
          );
        } else {
          out += decoder(ISO2022[name]!)(seg);
        }
      }
    };
    while (i < b.length) {
      if (b[i] === 0x1b) {
        const hit = ESCAPES.find(([seq]) => seq.every((v, k) => b[i + 1 + k] === v));
        if (hit) {
          flush(i);
          current = hit[1];
          i += 1 + hit[0].length;
          start = i;
          continue;
        }
      }
      // Delimiters reset to the initial set.
      if (b[i] === 0x5c || b[i] === 0x3d || b[i] === 0x5e || b[i] === 0x0d || b[i] === 0x0a) {
        if (current !== initial && current !== "ISO 2022 IR 6") {
          // A delimiter inside a multi-byte set is part of a character; only reset for single-byte sets.
          if (!/IR (87|159|149|58)$/.test(current)) {
            flush(i);
            current = initial;
            start = i;
          }
        }
      }
      i++;
    }
    flush(b.length);
    return out;
  };
}

/** True if every code unit is 7-bit ASCII. */
export function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * Encode a string for a dataset using the given charset. Only ASCII,
 * Latin-1 and UTF-8 are produced on output; callers choose ISO_IR 192 for
 * anything else.
 */
export function encodeText(s: string, cs: Charset): Buffer {
  if (cs.isUtf8) return Buffer.from(s, "utf8");
  if (isAscii(s)) return Buffer.from(s, "latin1");
  if (cs.isLatin1 && /^[\x00-\xff]*$/.test(s)) return Buffer.from(s, "latin1");
  return Buffer.from(s, "utf8");
}

/** Choose a Specific Character Set term able to carry every given string. */
export function chooseCharset(strings: Iterable<string>): string | undefined {
  let latin = true;
  let ascii = true;
  for (const s of strings) {
    if (!isAscii(s)) {
      ascii = false;
      if (!/^[\x00-\xff]*$/.test(s)) latin = false;
    }
  }
  if (ascii) return undefined;
  return latin ? "ISO_IR 100" : "ISO_IR 192";
}
