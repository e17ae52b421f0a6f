/**
 * RSNA CTP DicomAnonymizer scripts (`<script>` XML): parameters, element
 * rules, keep-group and remove rules, and the functions sites use. A
 * script is checked whole when it is loaded: an XML element, rule or
 * function we do not support is a usage error naming its line.
 */
import { createHash } from "node:crypto";
import { lookupKeyword, lookupTag, tagDcmtk } from "@dicom-pipes/dimse/dicom";

export type CtpCompat = "safe" | "exact";

/** A piece of an element script: literal text or a function call. */
export type CtpPart =
  | { text: string }
  | { fn: string; args: string[]; line: number; block?: CtpPart[]; elseBlock?: CtpPart[] };

export interface CtpRule {
  tag: number;
  name: string;
  line: number;
  /** `@always()` or `@append(){…}`: created at the top level when absent. */
  always: boolean;
  /** `@append(){…}`: the parts are a new value after the element's own. */
  append?: boolean;
  /** `@if(ELEMENT,isblank|exists){…}{…}`: one of two rules. */
  cond?: { ref: string; op: "isblank" | "exists"; then: CtpRule; else: CtpRule };
  /** An action (`remove`, `keep`, `empty`, `require`) or a value built from the parts. */
  action?: "remove" | "keep" | "empty" | "require";
  parts: CtpPart[];
}

export interface CtpScript {
  path: string;
  params: Map<string, string>;
  rules: Map<number, CtpRule>;
  keepGroups: Set<number>;
  removeCurves: boolean;
  removeOverlays: boolean;
  removePrivateGroups: boolean;
  removeUnspecified: boolean;
  /** The root of every `@hashuid` (one per script). */
  uidRoot?: string;
  /** The day increment of every `@incrementdate` (one per script). */
  dateIncrement?: number;
  /** `@lookup` key types used (only `ptid` is supported). */
  usesLookup: boolean;
  /** `@integer` used: numbers by first appearance, so files are de-identified in input order. */
  usesInteger: boolean;
  /** Rules on private attributes: not applied (private attributes are always removed). */
  privateRules: CtpRule[];
  /** Stray text between the lines (CTP's XML reader ignores it; it is logged). */
  warnings: string[];
}

export class CtpScriptError extends Error {}

const ACTIONS = new Set(["remove", "keep", "empty", "require"]);
const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_m, e: string) =>
    e.startsWith("#x")
      ? String.fromCodePoint(parseInt(e.slice(2), 16))
      : e.startsWith("#")
        ? String.fromCodePoint(Number(e.slice(1)))
        : ENTITIES[e]!,
  );
}

function attrs(text: string, where: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /\s*([A-Za-z_][\w.-]*)\s*=\s*("([^"]*)"|'([^']*)')/gy;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(text))) {
    out[m[1]!] = unescapeXml(m[3] ?? m[4] ?? "");
    end = re.lastIndex;
  }
  if (text.slice(end).trim() !== "")
    throw new CtpScriptError(`${where}: cannot read the attributes "${text.trim()}"`);
  return out;
}

/** Split an element script into literal text (a `\` separates values) and `@fn(args)` calls (`@always()YES`, `@hashuid(@UIDROOT,this)`). */
export function parseParts(body: string, where: string, line: number): CtpPart[] {
  const parts: CtpPart[] = [];
  let i = 0;
  let text = "";
  while (i < body.length) {
    const c = body[i]!;
    const m = c === "@" ? /^@([A-Za-z]+)\(/.exec(body.slice(i)) : null;
    if (!m) {
      text += c;
      i++;
      continue;
    }
    const close = body.indexOf(")", i + m[0].length);
    if (close < 0) throw new CtpScriptError(`${where}: @${m[1]}( has no closing parenthesis`);
    if (text) parts.push({ text });
    text = "";
    const inner = body.slice(i + m[0].length, close).trim();
    const call: CtpPart = {
      fn: m[1]!,
      args: inner === "" ? [] : inner.split(",").map((a) => a.trim()),
      line,
    };
    parts.push(call);
    i = close + 1;
    if (body[i] === "{") {
      if (m[1] !== "append" && m[1] !== "if")
        throw new CtpScriptError(
          `${where}: @${m[1]}(){...}: functions with a {...} argument other than @append and @if (@select) are not supported`,
        );
      const blocks: CtpPart[][] = [];
      while (body[i] === "{" && blocks.length < (m[1] === "if" ? 2 : 1)) {
        let depth = 0;
        let j = i;
        for (; j < body.length; j++) {
          if (body[j] === "{") depth++;
          else if (body[j] === "}" && --depth === 0) break;
        }
        if (j >= body.length)
          throw new CtpScriptError(`${where}: @${m[1]}: a { has no closing brace`);
        blocks.push(parseParts(body.slice(i + 1, j), where, line));
        i = j + 1;
      }
      [call.block, call.elseBlock] = blocks;
    }
  }
  if (text) parts.push({ text });
  return parts;
}

/** An element reference in a function argument: `this`, a keyword, `ggggeeee`, `(gggg,eeee)` or `[gggg,eeee]`. */
export function elementRef(arg: string, where: string): number | "this" {
  if (arg === "this") return "this";
  const hex = /^[([]?([0-9A-Fa-f]{4}),?([0-9A-Fa-f]{4})[)\]]?$/.exec(arg);
  if (hex) return ((parseInt(hex[1]!, 16) << 16) | parseInt(hex[2]!, 16)) >>> 0;
  const e = lookupKeyword(arg);
  if (!e)
    throw new CtpScriptError(
      `${where}: "${arg}" is not an element (this, a DICOM keyword or ggggeeee)`,
    );
  return e.tag;
}

function param(script: { params: Map<string, string> }, arg: string, where: string): string {
  if (!arg.startsWith("@")) return arg;
  const v = script.params.get(arg.slice(1));
  if (v === undefined)
    throw new CtpScriptError(
      `${where}: parameter ${arg} is not defined by a <p t="${arg.slice(1)}"> line`,
    );
  return v;
}

function checkFunction(script: CtpScript, p: { fn: string; args: string[] }, where: string): void {
  const w = `${where}: @${p.fn}`;
  const n = (lo: number, hi: number) => {
    if (p.args.length < lo || p.args.length > hi)
      throw new CtpScriptError(
        `${w} takes ${lo === hi ? lo : `${lo} to ${hi}`} arguments, found ${p.args.length}`,
      );
  };
  switch (p.fn) {
    case "hashuid": {
      n(2, 2);
      const root = param(script, p.args[0]!, w).trim().replace(/\.$/, "");
      if (!/^[1-9]\d*(\.(0|[1-9]\d*))*$/.test(root) || root.length > 24)
        throw new CtpScriptError(`${w}: "${root}" is not a UID root of at most 24 characters`);
      if (script.uidRoot !== undefined && script.uidRoot !== root)
        throw new CtpScriptError(
          `${w}: root ${root} differs from ${script.uidRoot} used earlier (one UID mapping for every attribute)`,
        );
      script.uidRoot = root;
      elementRef(p.args[1]!, w);
      return;
    }
    case "hash": {
      n(1, 2);
      elementRef(p.args[0]!, w);
      if (p.args[1] !== undefined && !/^\d+$/.test(param(script, p.args[1], w)))
        throw new CtpScriptError(`${w}: the length "${p.args[1]}" is not a whole number`);
      return;
    }
    case "lookup": {
      n(2, 2);
      elementRef(p.args[0]!, w);
      if (p.args[1] !== "ptid")
        throw new CtpScriptError(
          `${w}: key type "${p.args[1]}" is not supported (only ptid, the --id-map table)`,
        );
      script.usesLookup = true;
      return;
    }
    case "incrementdate": {
      n(2, 2);
      elementRef(p.args[0]!, w);
      const v = param(script, p.args[1]!, w).trim();
      if (!/^[+-]?\d+$/.test(v) || Number(v) === 0)
        throw new CtpScriptError(
          `${w}: the increment "${v}" is not a whole number of days other than 0`,
        );
      if (script.dateIncrement !== undefined && script.dateIncrement !== Number(v))
        throw new CtpScriptError(
          `${w}: increment ${v} differs from ${script.dateIncrement} used earlier (one shift per patient)`,
        );
      script.dateIncrement = Number(v);
      return;
    }
    case "hashdate":
      n(2, 2);
      elementRef(p.args[0]!, w);
      elementRef(p.args[1]!, w);
      return;
    case "param":
      n(1, 1);
      param(script, p.args[0]!, w);
      return;
    case "date":
    case "time":
      n(0, 1);
      return;
    case "integer": {
      n(1, 3);
      script.usesInteger = true;
      elementRef(p.args[0]!, w);
      if (p.args[2] !== undefined && !/^\d+$/.test(p.args[2]))
        throw new CtpScriptError(`${w}: the width "${p.args[2]}" is not a whole number`);
      return;
    }
    default:
      throw new CtpScriptError(
        `${w}() is not supported (supported: @remove @keep @empty @require @always @hashuid @hash @hashdate @lookup(...,ptid) @incrementdate @param @date @time @integer)`,
      );
  }
}

function elementRule(
  script: CtpScript,
  a: Record<string, string>,
  body: string,
  where: string,
  line: number,
): CtpRule | undefined {
  if (!/^[0-9A-Fa-f]{8}$/.test(a.t ?? ""))
    throw new CtpScriptError(`${where}: t="${a.t ?? ""}" is not a tag (ggggeeee)`);
  if (a.en !== "T" && a.en !== "F")
    throw new CtpScriptError(`${where}: en="${a.en ?? ""}" is not T or F`);
  if (a.en === "F") return undefined;
  const tag = parseInt(a.t!, 16) >>> 0;
  return bodyRule(
    script,
    parseParts(body.trim(), where, line),
    { tag, name: a.n ?? tagDcmtk(tag), line },
    where,
  );
}

/** The rule of an element script (or of a branch of `@if`). */
function bodyRule(
  script: CtpScript,
  all: CtpPart[],
  base: { tag: number; name: string; line: number },
  where: string,
): CtpRule {
  let parts = all;
  let always = false;
  const first = parts[0];
  if (first && "fn" in first && first.fn === "always") {
    if (first.args.length) throw new CtpScriptError(`${where}: @always takes no arguments`);
    always = true;
    parts = parts.slice(1);
  }
  const rule: CtpRule = { ...base, always, parts };
  const only = parts.length === 1 ? parts[0]! : undefined;
  if (only && "fn" in only && only.fn === "append") {
    if (only.args.length || !only.block)
      throw new CtpScriptError(`${where}: expected @append(){...}`);
    rule.append = true;
    rule.always = true;
    rule.parts = only.block;
    for (const p of rule.parts) if ("fn" in p) checkFunction(script, p, where);
    return rule;
  }
  if (only && "fn" in only && only.fn === "if") {
    if (only.args.length !== 2 || !only.block || !only.elseBlock)
      throw new CtpScriptError(`${where}: expected @if(ELEMENT,isblank|exists){...}{...}`);
    if (only.args[1] !== "isblank" && only.args[1] !== "exists")
      throw new CtpScriptError(
        `${where}: @if condition "${only.args[1]}" is not supported (isblank, exists)`,
      );
    elementRef(only.args[0]!, where);
    rule.cond = {
      ref: only.args[0]!,
      op: only.args[1],
      then: bodyRule(script, only.block, base, where),
      else: bodyRule(script, only.elseBlock, base, where),
    };
    return rule;
  }
  if (parts.length === 0) rule.action = "empty";
  else if (only && "fn" in only && ACTIONS.has(only.fn)) {
    if (only.args.length) throw new CtpScriptError(`${where}: @${only.fn} takes no arguments`);
    rule.action = only.fn as CtpRule["action"];
  } else {
    for (const p of parts) {
      if (!("fn" in p)) continue;
      if (ACTIONS.has(p.fn) || p.fn === "always" || p.fn === "append" || p.fn === "if")
        throw new CtpScriptError(`${where}: @${p.fn}() must be the whole script of the element`);
      checkFunction(script, p, where);
    }
  }
  return rule;
}

/** Parse and check a CTP DicomAnonymizer script. */
export function parseCtpScript(text: string, path: string): CtpScript {
  const script: CtpScript = {
    path,
    params: new Map(),
    rules: new Map(),
    keepGroups: new Set(),
    removeCurves: false,
    removeOverlays: false,
    removePrivateGroups: false,
    removeUnspecified: false,
    usesLookup: false,
    usesInteger: false,
    privateRules: [],
    warnings: [],
  };
  const lineAt = (i: number) => text.slice(0, i).split("\n").length;
  const src = text
    .replace(/<!--[\s\S]*?-->/g, (c) => c.replace(/[^\n]/g, " "))
    .replace(/<\?xml[\s\S]*?\?>/, (c) => c.replace(/[^\n]/g, " "));
  const open = /<script\b[^>]*>/.exec(src);
  const close = src.lastIndexOf("</script>");
  if (!open || close < open.index)
    throw new CtpScriptError(`${path}: not a CTP script (expected <script> ... </script>)`);
  const re = /<([A-Za-z][\w-]*)([^>]*?)(\/>|>([\s\S]*?)<\/\1\s*>)/g;
  re.lastIndex = open.index + open[0].length;
  const pending: Array<{ a: Record<string, string>; body: string; where: string; line: number }> =
    [];
  let last = re.lastIndex;
  let m: RegExpExecArray | null;
  while ((m = re.exec(src)) && m.index < close) {
    const gap = src.slice(last, m.index);
    if (gap.trim())
      script.warnings.push(
        `${path}:${lineAt(last + gap.search(/\S/))}: text "${gap.trim().slice(0, 40)}" between script lines is not part of a rule (ignored, as by CTP)`,
      );
    last = re.lastIndex;
    const line = lineAt(m.index);
    const where = `${path}:${line}`;
    const a = attrs(m[2]!, where);
    const body = unescapeXml(m[4] ?? "");
    switch (m[1]) {
      case "p":
        if (!a.t) throw new CtpScriptError(`${where}: <p> needs a t="NAME" attribute`);
        script.params.set(a.t, body.trim());
        break;
      case "e":
        pending.push({ a, body, where, line });
        break;
      case "k": {
        if (a.en !== "T" && a.en !== "F")
          throw new CtpScriptError(`${where}: en="${a.en ?? ""}" is not T or F`);
        if (!/^[0-9A-Fa-f]{4}$/.test(a.t ?? ""))
          throw new CtpScriptError(
            `${where}: <k t="${a.t ?? ""}">: only keep rules for a group (gggg) are supported`,
          );
        if (a.en === "T") script.keepGroups.add(parseInt(a.t!, 16));
        break;
      }
      case "r": {
        if (a.en !== "T" && a.en !== "F")
          throw new CtpScriptError(`${where}: en="${a.en ?? ""}" is not T or F`);
        const on = a.en === "T";
        switch (a.t) {
          case "curves":
            script.removeCurves = on;
            break;
          case "overlays":
            script.removeOverlays = on;
            break;
          case "privategroups":
            script.removePrivateGroups = on;
            break;
          case "unspecifiedelements":
            script.removeUnspecified = on;
            break;
          default:
            throw new CtpScriptError(
              `${where}: <r t="${a.t ?? ""}"> is not supported (curves, overlays, privategroups, unspecifiedelements)`,
            );
        }
        break;
      }
      default:
        throw new CtpScriptError(`${where}: <${m[1]}> is not supported (p, e, k, r)`);
    }
  }
  const tail = src.slice(last, close);
  if (tail.trim())
    script.warnings.push(
      `${path}:${lineAt(last + tail.search(/\S/))}: text "${tail.trim().slice(0, 40)}" between script lines is not part of a rule (ignored, as by CTP)`,
    );
  // Element rules after the parameters, wherever the <p> lines are.
  for (const p of pending) {
    const rule = elementRule(script, p.a, p.body, p.where, p.line);
    if (!rule) continue;
    if ((rule.tag >>> 16) % 2 === 1) script.privateRules.push(rule);
    else script.rules.set(rule.tag, rule);
  }
  return script;
}

/** CTP's unsigned MD5: the decimal value of MD5(UTF-8 text). */
export function ctpMd5Decimal(text: string): string {
  return BigInt(`0x${createHash("md5").update(text, "utf8").digest("hex")}`).toString(10);
}

/** CTP's `@hashuid(root, uid)`: root + "." + unsigned MD5 decimal (a leading 0 prefixed by 9), cut to 64 characters. */
export function ctpHashUid(root: string, uid: string): string {
  const h = ctpMd5Decimal(uid);
  return `${root.replace(/\.$/, "")}.${h.startsWith("0") ? "9" : ""}${h}`.slice(0, 64);
}

/**
 * CTP's `@hashdate` increment from a hash (decimal digits) of an element's value: minus the last
 * four digits modulo 3650 (ten years), -1 instead of 0.
 */
export function ctpHashDateIncrement(hashDigits: string): number {
  return -(Number(hashDigits.slice(-4)) % 3650) || -1;
}

/** The keyword or tag of an element for messages. */
export function ruleLabel(r: CtpRule): string {
  return `${tagDcmtk(r.tag)} ${lookupTag(r.tag)?.keyword ?? r.name} (line ${r.line})`;
}
