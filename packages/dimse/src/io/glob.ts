/** Shell wildcards (`*`, `?`, `[...]`, `[!...]`) as regular expressions for one name. */

export interface WildcardOptions {
  /** `*` and `?` do not match a leading `.` (the shell's rule; fnmatch without FNM_PERIOD matches it). */
  hideDotFiles?: boolean;
}

export function wildcard(pattern: string, o: WildcardOptions = {}): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 2);
      if (end < 0) re += "\\[";
      else {
        let set = pattern.slice(i + 1, end);
        if (set.startsWith("!")) set = `^${set.slice(1)}`;
        re += `[${set.replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  const dot = o.hideDotFiles && !pattern.startsWith(".") ? "(?!\\.)" : "";
  return new RegExp(`^${dot}${re}$`, "s");
}
