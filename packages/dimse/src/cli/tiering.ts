/**
 * V8's optimising compiler for a run that is over in a fraction of a
 * second. V8 hands a function to TurboFan once it has run a budget of
 * bytecode; a query of a few hundred matches spends about a fifth of its
 * CPU time (on another core, which a 2-core machine does not have to
 * spare) compiling code that then runs for a few milliseconds. Eight
 * times the budget leaves that code to the baseline compiler, and a long
 * run (thousands of matches, a batch) is optimised a moment later.
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
export function shortRunTiering(factor = 8, o: { inlining?: number } = {}): void {
  if (done) return;
  done = true;
  setFlagsFromString(`--interrupt-budget=${DEFAULT_BUDGET * factor}`);
  if (o.inlining !== undefined)
    setFlagsFromString(`--max-inlined-bytecode-size-cumulative=${o.inlining}`);
}
