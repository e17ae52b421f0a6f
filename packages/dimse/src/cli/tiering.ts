/**
 * V8's optimising compiler for the tools' work. V8 hands a function to
 * TurboFan once it has run a budget of bytecode, and compiles it on
 * another thread, which a 2-core machine does not have to spare: a query
 * of a few hundred matches spent about a fifth of its CPU time compiling
 * code that then ran for a few milliseconds; dcmanon spent 0.7 s of CPU
 * compiling for 1000 files; storescp-ts had about 70 functions compiled in
 * the first association of 500 objects, for code (a thin layer over
 * system calls) that runs as well in baseline code. A larger budget leaves
 * such code to the baseline compiler, and what stays hot is optimised a
 * moment later.
 */
import { setFlagsFromString } from "node:v8";

/** V8's default `--interrupt-budget` (bytes of bytecode), Node 20 to 22. */
const DEFAULT_BUDGET = 66 * 1024;

let done = false;

/**
 * Raise the budget (once per process) before the work starts; the `--help` path never calls it.
 * `inlining`: the bytecode TurboFan may inline into one function (V8's default 920), less for a
 * tool whose hot functions call much (each compilation is then shorter). The flags hold for the
 * process's worker threads too; a thread started afterwards compiles its bundle without the code
 * cache, which V8 accepts only under the flags it was made with.
 */
export function tuneJit(factor = 8, o: { inlining?: number } = {}): void {
  if (done) return;
  done = true;
  setFlagsFromString(`--interrupt-budget=${DEFAULT_BUDGET * factor}`);
  if (o.inlining !== undefined)
    setFlagsFromString(`--max-inlined-bytecode-size-cumulative=${o.inlining}`);
}
