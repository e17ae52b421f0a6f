/**
 * Hook commands (-xcr/-xcs) with values a hostile peer chooses: the
 * command text is run by a real /bin/sh and must print each value
 * literally, execute none of it, and, for ordinary values, print what
 * DCMTK's raw substitution prints (#a #c #r as if in double quotes, #p #f
 * bare; see dcmtk-cli.md §8 and test/interop/storage.test.ts, which
 * compares with DCMTK storescp).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { substitute, type HookContext } from "../src/hooks.js";

function run(template: string, ctx: HookContext): { out: string; created: string[] } {
  const cwd = mkdtempSync(join(tmpdir(), "hooks-"));
  try {
    const cmd = substitute(template, ctx);
    const r = spawnSync("sh", ["-c", cmd.command], {
      cwd,
      env: { ...process.env, ...cmd.env },
      encoding: "utf8",
    });
    return { out: r.stdout, created: readdirSync(cwd) };
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

const HOSTILE = [
  "$(touch INJ)",
  "`touch INJ`",
  "1.2;touch INJ",
  "a b  c",
  "it's",
  'say "x"',
  "back\\slash",
  "*",
  "x|touch INJ",
  "&& touch INJ",
  "\n touch INJ",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal shell expansion is the attack
  "${HOME}",
  "#a",
];

const ctx = (v: string): HookContext => ({
  dir: `/od/${v}`,
  file: `CT.${v}`,
  callingAet: v,
  calledAet: v,
  host: v,
});

describe("hook placeholders", () => {
  // [template, expected output for value v]
  const cases: Array<[string, (v: string) => string]> = [
    ["printf '%s|' #a #c #r #f", (v) => `${v}|${v}|${v}|CT.${v}|`],
    [
      'printf \'%s|\' "#a" "from #a to #c" "#p/#f"',
      (v) => `${v}|from ${v} to ${v}|/od/${v}/CT.${v}|`,
    ],
    ["printf '%s|' 'a=#a f=#f'", (v) => `a="${v}" f=CT.${v}|`],
    ["printf '%s|' #p/#f", (v) => `/od/${v}/CT.${v}|`],
    ['printf \'%s|\' "$(printf %s #a)" "`printf %s #f`"', (v) => `${v}|CT.${v}|`],
    ["printf '%s|' \"x$(printf '%s' \"#a\")y\"", (v) => `x${v}y|`],
    ["# it's a comment with #a\nprintf '%s|' #a", (v) => `${v}|`],
    // In a here-document quotes are text: DCMTK's "value" shows its quotes too.
    ["cat <<EOF\n#a\nEOF", (v) => `"${v}"\n`],
  ];
  for (const [template, expected] of cases) {
    test(JSON.stringify(template), () => {
      for (const v of HOSTILE) {
        const r = run(template, ctx(v));
        assert.deepEqual(r.created, [], `${JSON.stringify(v)} ran a command`);
        // Command substitution drops trailing newlines, as it would with DCMTK.
        const want = expected(v);
        if (template.includes("$(") || template.includes("`"))
          assert.equal(r.out, want.replace(/\n+(?=\|)/g, ""), JSON.stringify(v));
        else assert.equal(r.out, want, JSON.stringify(v));
      }
    });
  }

  test("ordinary values: the same text DCMTK's raw substitution gives", () => {
    const v: HookContext = {
      dir: "/od/s_1.2.3",
      file: "CT.1.2.3.4",
      callingAet: "STORESCU",
      calledAet: "ANY-SCP",
      host: "localhost",
    };
    // DCMTK: #a -> "STORESCU" (double quotes included), #p #f bare; the shell then parses that text.
    const dcmtk = (t: string) =>
      t
        .replace(/#p/g, v.dir)
        .replace(/#f/g, v.file!)
        .replace(/#a/g, `"${v.callingAet}"`)
        .replace(/#c/g, `"${v.calledAet}"`)
        .replace(/#r/g, `"${v.host}"`);
    for (const t of [
      "echo #p/#f #a #c #r",
      "printf '%s\\n' 'p=#p f=#f a=#a c=#c r=#r'",
      'echo "#a and #c at #r"',
      "echo x#ay",
    ]) {
      const ours = run(t, v).out;
      const ref = spawnSync("sh", ["-c", dcmtk(t)], { encoding: "utf8" }).stdout;
      assert.equal(ours, ref, t);
    }
  });

  test("a NUL in a value (an AE title is 16 raw bytes) is dropped, not a failure to start", () => {
    assert.equal(run("printf '%s' #a", ctx("A\u0000B")).out, "AB");
    assert.ok(!existsSync(join(tmpdir(), "INJ")));
  });
});
