/**
 * src/cli: what every command shares — "did you mean" for commands and flags,
 * and `skycert completion`, whose scripts are run by the real shells.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { inPty } from "./helpers/pty.js";
import { BIN, ROOT, oneLine, scratch, skycert } from "./helpers/run.js";

const PATH = `${join(ROOT, "bin")}:${process.env.PATH}`;

describe("did you mean", () => {
  it("an unknown command or flag is one line with the closest one (exit 2)", () => {
    expect(oneLine(skycert(["valdate"]), 2)).toMatch(/unknown command 'valdate' \(Did you mean validate\?\)/);
    expect(oneLine(skycert(["init", "analyzer", "--sna", "10.0.0.1"]), 2)).toMatch(/unknown option '--sna' \(Did you mean --san\?\)/);
    expect(oneLine(skycert(["renew", "x.crt", "--rekye"]), 2)).toMatch(/Did you mean --rekey\?/);
  });

  it("a value outside a flag's choices, or an unknown role, names the closest one (exit 2)", () => {
    expect(oneLine(skycert(["validate", "--role", "analyzr"]), 2)).toMatch(/argument 'analyzr' is invalid\. Allowed choices are analyzer, agent\. \(did you mean analyzer\?\)$/);
    expect(oneLine(skycert(["init", "--skydive", "0.28"]), 2)).toMatch(/\(Skydive 0\.28 is of the 0\.27 family: --skydive 0\.27\)$/);
    expect(oneLine(skycert(["validate", "--skydive", "v0.24.0"]), 2)).toMatch(/\(Skydive v0\.24\.0 is of the 0\.21 family: --skydive 0\.21\)$/);
    expect(oneLine(skycert(["export", "k8s", "--skydive", "0.20"]), 2)).toMatch(/--skydive legacy\)$/);
    expect(oneLine(skycert(["probe", "--skydive", "lagacy"]), 2)).toMatch(/\(did you mean legacy\?\)$/);
    expect(oneLine(skycert(["init", "analyzr"]), 2)).toMatch(/unknown init target "analyzr" \(did you mean analyzer\?\)/);
  });
});

describe("skycert completion", () => {
  /** bash's own completion call: COMP_WORDS as bash splits the line, then the function the script registered. */
  const bash = (line: string) => {
    const script = `source <(${process.execPath} ${BIN} completion bash)
COMP_WORDS=(${line}); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 ))
[[ "${line}" == *" " ]] && { COMP_WORDS+=(""); COMP_CWORD=$(( COMP_CWORD + 1 )); }
$(complete -p skycert | sed -E 's/.*-F ([^ ]+) .*/\\1/')
printf '%s\\n' "\${COMPREPLY[@]}"`;
    const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.trim().split("\n").filter(Boolean);
  };

  it("bash: commands, subcommands, a command's flags (hidden ones not), and a flag's choices", () => {
    expect(bash("skycert va")).toEqual(["validate"]);
    expect(bash("skycert export ")).toEqual(expect.arrayContaining(["k8s", "ansible"]));
    expect(bash("skycert init --sk")).toEqual(["--skydive"]);
    expect(bash("skycert init --skydive ")).toEqual(["legacy", "0.21", "0.27"]);
    expect(bash("skycert renew --key-type ")).toEqual(["rsa", "ecdsa"]);
    expect(bash("skycert export k8s --cl")).toEqual(["--cluster-ip"]);
    expect(bash("skycert init --sch")).toEqual([]);
    expect(bash("skycert completion ")).toEqual(["bash", "zsh", "fish", "--help"]);
  });

  it("fish: complete -C lists the same", () => {
    const r = spawnSync("fish", ["-c", `${process.execPath} ${BIN} completion fish | source; complete -C "skycert init --sk"; complete -C "skycert validate --skydive "`], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const words = r.stdout.split("\n").map((l) => l.split("\t")[0]);
    expect(words).toEqual(expect.arrayContaining(["--skydive", "legacy", "0.21", "0.27"]));
  });

  it("zsh: a Tab in an interactive zsh completes the flag and its value", () => {
    const dir = scratch();
    writeFileSync(join(dir, ".zshrc"), "PS1='ready> '\nautoload -U compinit && compinit -u\nsource <(skycert completion zsh)\n");
    // The one line --help gives for ~/.zshrc, nothing else (the script loads compinit when it is not).
    writeFileSync(join(dir, ".zshrc"), "PS1='ready> '\nsource <(skycert completion zsh)\n");
    const r = inPty(["zsh", "--no-globalrcs", "-i"], [
      { expect: "ready> ", send: "skycert init --skyd\t" },
      { expect: "--skydive", send: "0.2\t" },
      // Two values start with 0.2: zsh lists them under the line.
      { expect: "0.27", send: "\x03" },
      { expect: "ready> ", send: "exit\n" },
    ], dir, { ...process.env, PATH, HOME: dir });
    expect(r.output).toMatch(/skycert init --skydive 0\.2/);
    expect(r.output).toMatch(/0\.21\s+0\.27/);
  });
});
