/**
 * Pixel redaction rules in CTP's DicomPixelAnonymizer script format: signatures in braces,
 * boolean expressions over header values, each followed by the regions `(x,y,w,h)` to blank
 * in the images it matches. The first signature that matches gives the regions (as CTP's
 * PixelScript). See README "Pixel redaction".
 */
import {
  type Dataset,
  elementNumbers,
  lookupKeyword,
  type PixelRect,
  STRING_VRS,
} from "@dicom-pipes/dimse/dicom";

/** A script that does not parse: the message names `FILE:LINE` and what was expected. */
/** Bounds of one signature: nesting (parentheses and !) and tests joined by * and +. */
const MAX_DEPTH = 64;
const MAX_OPERANDS = 1000;

export class RedactScriptError extends Error {}

/** One region as written, `(x, y, w, h)`: x and y below 0 count from the right and bottom edges. */
export interface Region {
  x: number;
  y: number;
  w: number;
  h: number;
  line: number;
}

type Expr =
  | { op: "const"; value: boolean }
  | { op: "not"; a: Expr }
  | { op: "and" | "or"; a: Expr; b: Expr }
  | { op: "test"; path: number[]; method: Method; arg: string; re?: RegExp };

const METHODS = [
  "equals",
  "equalsIgnoreCase",
  "matches",
  "contains",
  "containsIgnoreCase",
  "startsWith",
  "startsWithIgnoreCase",
  "endsWith",
  "endsWithIgnoreCase",
  "isLessThan",
  "isGreaterThan",
] as const;
type Method = (typeof METHODS)[number];

export interface Signature {
  /** The line of its `{`. */
  line: number;
  /** The expression as written (whitespace collapsed). */
  text: string;
  expr: Expr;
  regions: Region[];
}

export interface RedactScript {
  file: string;
  signatures: Signature[];
}

/** Parse a DicomPixelAnonymizer script; `file` names it in errors. */
export function parseRedactScript(text: string, file: string): RedactScript {
  const signatures: Signature[] = [];
  let i = 0;
  let line = 1;
  const fail = (at: number, what: string): never => {
    throw new RedactScriptError(`${file}:${at}: ${what}`);
  };
  const finish = () => {
    const last = signatures[signatures.length - 1];
    if (last && last.regions.length === 0)
      fail(last.line, "expected at least one region (x,y,w,h) after the signature");
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === "\n") {
      line++;
      i++;
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (c === "{") {
      finish();
      const start = line;
      let j = i + 1;
      let quoted = false;
      while (j < text.length && (quoted || text[j] !== "}")) {
        // A comment inside the signature may hold quotes and braces.
        if (!quoted && text.startsWith("//", j))
          while (j < text.length && text[j + 1] !== "\n") j++;
        else if (text[j] === '"') quoted = !quoted;
        else if (text[j] === "{" && !quoted)
          fail(line, `expected } to close the signature opened on line ${start}`);
        if (text[j] === "\n") line++;
        j++;
      }
      if (j >= text.length)
        fail(start, "expected } to close this signature, found the end of the file");
      const body = text.slice(i + 1, j);
      signatures.push({
        line: start,
        text: stripComments(body).replace(/\s+/g, " ").trim(),
        expr: parseExpression(body, file, start),
        regions: [],
      });
      i = j + 1;
    } else if (c === "(") {
      const end = text.indexOf(")", i);
      const nl = text.indexOf("\n", i);
      if (end < 0 || (nl >= 0 && nl < end))
        fail(line, "expected ) to close the region on this line");
      const inner = text.slice(i + 1, end);
      const m = /^\s*(-?\d+)\s*,\s*(-?\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*$/.exec(inner);
      if (!m)
        fail(
          line,
          `expected a region (x,y,w,h): four integers, w and h not negative, found "(${inner})"`,
        );
      const last = signatures[signatures.length - 1];
      if (!last) fail(line, "expected a signature { ... } before the first region");
      last!.regions.push({ x: +m![1]!, y: +m![2]!, w: +m![3]!, h: +m![4]!, line });
      i = end + 1;
    } else if (c === "}" || c === ")") {
      fail(line, `expected a signature { ... } or a region (x,y,w,h), found a stray "${c}"`);
    } else {
      // Free text (a label, a heading: CTP ignores it) up to the next brace, parenthesis or line end.
      let j = i;
      while (j < text.length && !"{}()\n".includes(text[j]!) && !text.startsWith("//", j)) j++;
      const words = text.slice(i, j).trim();
      if (/^-?\d+\s*,\s*-?\d+\s*,\s*\d+\s*,\s*\d+$/.test(words))
        fail(line, `expected a region in parentheses (x,y,w,h), found "${words}"`);
      i = j;
    }
  }
  finish();
  if (!signatures.length) fail(line, "expected at least one signature { ... } with its regions");
  return { file, signatures };
}

function stripComments(s: string): string {
  let out = "";
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '"') quoted = !quoted;
    if (!quoted && s[i] === "/" && s[i + 1] === "/") {
      while (i < s.length && s[i] !== "\n") i++;
      out += "\n";
      continue;
    }
    out += s[i];
  }
  return out;
}

/**
 * CTP's signature language: `!` (not) binds tightest, then `*` (and), then `+` (or);
 * parentheses; operands `true`, `false` or `ELEMENT.method("text")`, ELEMENT a keyword or
 * `[gggg,eeee]`, `A::B` for an element of A's first item.
 */
function parseExpression(body: string, file: string, firstLine: number): Expr {
  let i = 0;
  let line = firstLine;
  const fail = (what: string): never => {
    throw new RedactScriptError(`${file}:${line}: ${what}`);
  };
  const skip = () => {
    while (i < body.length) {
      if (body[i] === "\n") {
        line++;
        i++;
      } else if (/\s/.test(body[i]!)) i++;
      else if (body.startsWith("//", i)) while (i < body.length && body[i] !== "\n") i++;
      else break;
    }
  };
  const found = () => (i < body.length ? `"${body.slice(i, i + 20).split("\n")[0]}"` : "the }");
  /** Operands joined by one binary operator, left to right. */
  const chain = (sign: string, op: "and" | "or", next: () => Expr) => (): Expr => {
    let a = next();
    skip();
    while (body[i] === sign) {
      i++;
      a = { op, a, b: next() };
      skip();
    }
    return a;
  };
  const and = chain("*", "and", () => unary());
  const or = chain("+", "or", and);
  // Parsing and matching recurse: a signature nested deeper, or longer, than any real one is an
  // error here rather than a stack overflow later (every file would fail to match).
  let depth = 0;
  let operands = 0;
  const unary = (): Expr => {
    skip();
    if (++depth > MAX_DEPTH) fail(`signature nested more than ${MAX_DEPTH} deep`);
    try {
      if (body[i] === "!") {
        i++;
        return { op: "not", a: unary() };
      }
      if (body[i] === "(") {
        i++;
        const e = or();
        skip();
        if (body[i] !== ")") fail(`expected ) in the signature, found ${found()}`);
        i++;
        return e;
      }
      if (++operands > MAX_OPERANDS) fail(`signature of more than ${MAX_OPERANDS} tests`);
      return operand();
    } finally {
      depth--;
    }
  };
  const operand = (): Expr => {
    const m = /^(true|false)\b/.exec(body.slice(i));
    if (m) {
      i += m[0].length;
      return { op: "const", value: m[1] === "true" };
    }
    const id =
      /^((?:\[[0-9A-Fa-f]{4},?[0-9A-Fa-f]{4}\]|[A-Za-z][A-Za-z0-9]*)(?:::(?:\[[0-9A-Fa-f]{4},?[0-9A-Fa-f]{4}\]|[A-Za-z][A-Za-z0-9]*))*)\s*\.\s*([A-Za-z]+)\s*\(\s*/.exec(
        body.slice(i),
      );
    if (!id)
      fail(
        `expected ELEMENT.method("text") (e.g. Modality.equals("US"), [0028,0010].equals("600")), true, false, ! or (, found ${found()}`,
      );
    const path = id![1]!.split("::").map((name) => {
      const hex = /^\[([0-9A-Fa-f]{4}),?([0-9A-Fa-f]{4})\]$/.exec(name);
      if (hex) return ((parseInt(hex[1]!, 16) << 16) | parseInt(hex[2]!, 16)) >>> 0;
      const e = lookupKeyword(name);
      if (!e) fail(`"${name}" is not a DICOM keyword (or [gggg,eeee])`);
      return e!.tag;
    });
    const method = id![2]! as Method;
    if (!METHODS.includes(method))
      fail(`"${method}" is not a signature method: expected one of ${METHODS.join(", ")}`);
    i += id![0].length;
    const arg = /^"([^"\n]*)"\s*\)/.exec(body.slice(i));
    if (!arg) fail(`expected a quoted text and ) after ${id![1]}.${method}(, found ${found()}`);
    i += arg![0].length;
    const t: Expr = { op: "test", path, method, arg: arg![1]! };
    if (method === "matches") {
      try {
        t.re = new RegExp(`^(?:${arg![1]})$`, "s");
      } catch (e) {
        fail(`${id![1]}.matches: not a regular expression: ${(e as Error).message}`);
      }
    }
    return t;
  };
  const e = or();
  skip();
  if (i < body.length)
    fail(`expected * (and), + (or) or the end of the signature, found ${found()}`);
  return e;
}

/** An element's value as CTP's signatures see it: text (values joined by `\`), numbers in decimal; "" when absent. */
function headerValue(ds: Dataset, meta: Dataset, path: readonly number[], little: boolean): string {
  let d: Dataset | undefined = ds;
  for (let k = 0; k < path.length; k++) {
    const tag = path[k]!;
    const from: Dataset = k === 0 && tag >>> 16 === 0x0002 ? meta : d!;
    const el = from.get(tag);
    if (!el) return "";
    if (k < path.length - 1) {
      d = el.items?.[0];
      if (!d) return "";
      continue;
    }
    if (el.items || el.fragments || !el.value) return "";
    if (STRING_VRS.has(el.vr)) return from.string(tag) ?? "";
    return elementNumbers(el, from === meta ? true : little).join("\\");
  }
  return "";
}

function number(s: string): number | undefined {
  const t = s.replace(/[^0-9.]/g, "");
  return /^(\d+\.?\d*|\.\d+)$/.test(t) ? Number(t) : undefined;
}

function test(method: Method, v: string, arg: string, re?: RegExp): boolean {
  switch (method) {
    case "equals":
      return v === arg;
    case "equalsIgnoreCase":
      return v.toLowerCase() === arg.toLowerCase();
    case "matches":
      return re!.test(v);
    case "contains":
      return v.includes(arg);
    case "containsIgnoreCase":
      return v.toLowerCase().includes(arg.toLowerCase());
    case "startsWith":
      return v.startsWith(arg);
    case "startsWithIgnoreCase":
      return v.toLowerCase().startsWith(arg.toLowerCase());
    case "endsWith":
      return v.endsWith(arg);
    case "endsWithIgnoreCase":
      return v.toLowerCase().endsWith(arg.toLowerCase());
    case "isLessThan":
    case "isGreaterThan": {
      const a = number(v);
      const b = number(arg);
      if (a === undefined || b === undefined) return false;
      return method === "isLessThan" ? a < b : a > b;
    }
  }
}

function evaluate(e: Expr, ds: Dataset, meta: Dataset, little: boolean): boolean {
  switch (e.op) {
    case "const":
      return e.value;
    case "not":
      return !evaluate(e.a, ds, meta, little);
    case "and":
      return evaluate(e.a, ds, meta, little) && evaluate(e.b, ds, meta, little);
    case "or":
      return evaluate(e.a, ds, meta, little) || evaluate(e.b, ds, meta, little);
    case "test":
      return test(e.method, headerValue(ds, meta, e.path, little), e.arg, e.re);
  }
}

/** The first signature the (input) dataset matches, as CTP: later ones are not looked at. */
export function matchSignature(
  script: RedactScript,
  ds: Dataset,
  meta: Dataset,
  little: boolean,
): Signature | undefined {
  return script.signatures.find((s) => evaluate(s.expr, ds, meta, little));
}

/**
 * The pixels a region blanks in an image of `rows` × `columns`, as CTP blanks uncompressed
 * pixels: x (y) below 0 counts from the right (bottom) edge, the width (height) is cut at the
 * image's edge, and columns x to x + w, rows y to y + h are blanked, both ends included.
 */
export function regionRect(r: Region, rows: number, columns: number): PixelRect {
  const x = Math.min(r.x < 0 ? Math.max(0, r.x + columns) : r.x, columns);
  const y = Math.min(r.y < 0 ? Math.max(0, r.y + rows) : r.y, rows);
  return {
    left: x,
    top: y,
    right: Math.min(columns, x + r.w + 1),
    bottom: Math.min(rows, y + r.h + 1),
  };
}

export function regionText(r: Region): string {
  return `(${r.x},${r.y},${r.w},${r.h})`;
}
