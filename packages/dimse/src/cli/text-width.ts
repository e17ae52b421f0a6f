/**
 * Display width of a string in a terminal, for yargs' help layout (cliui,
 * wrap-ansi): the bundles use this instead of the string-width package,
 * whose module creates an Intl.Segmenter at load (several milliseconds of
 * every tool's start-up) and tests an emoji regex per character. Printable
 * ASCII, nearly all help text, is its length; otherwise control and
 * combining characters count 0 and East Asian wide ones and emoji 2 (the
 * wcwidth ranges).
 */
import { stripVTControlCharacters } from "node:util";

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}\p{Cc}]$/u;
const WIDE =
  /^[\u1100-\u115f\u231a\u231b\u2329\u232a\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\ua960-\ua97f\uac00-\ud7a3\uf900-\ufaff\ufe10-\ufe19\ufe30-\ufe6f\uff00-\uff60\uffe0-\uffe6\u{1f300}-\u{1f64f}\u{1f900}-\u{1f9ff}\u{20000}-\u{3fffd}]$/u;

export default function textWidth(text: string): number {
  if (typeof text !== "string" || text.length === 0) return 0;
  if (PRINTABLE_ASCII.test(text)) return text.length;
  let width = 0;
  for (const ch of stripVTControlCharacters(text)) {
    if (ZERO_WIDTH.test(ch)) continue;
    width += WIDE.test(ch) ? 2 : 1;
  }
  return width;
}
