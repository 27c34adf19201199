/**
 * `skycert completion bash|zsh|fish`: a completion script made from the
 * command definitions themselves, so it never lists a flag skycert lacks.
 */
import { Argument, type Command } from "commander";

interface Spec {
  path: string[];
  subcommands: string[];
  flags: string[];
  /** Values of an option or positional argument with fixed choices. */
  choices: Record<string, string[]>;
  positional: string[];
}

function specs(cmd: Command, path: string[] = []): Spec[] {
  const choices: Record<string, string[]> = {};
  const options = cmd.options.filter((o) => !o.hidden);
  for (const o of options) if (o.argChoices && o.long) choices[o.long] = o.argChoices;
  const positional = (cmd.registeredArguments ?? []).flatMap((a) => a.argChoices ?? []);
  const own: Spec = {
    path,
    subcommands: cmd.commands.map((c) => c.name()),
    flags: options.map((o) => o.long ?? o.short ?? "").filter(Boolean).concat(["--help"]),
    choices,
    positional,
  };
  return [own, ...cmd.commands.flatMap((c) => specs(c, [...path, c.name()]))];
}

function bash(all: Spec[]): string {
  const cases = all
    .map((s) => {
      const words = [...s.subcommands, ...s.positional, ...s.flags].join(" ");
      const choice = Object.entries(s.choices)
        .map(([flag, values]) => `        ${flag}) COMPREPLY=($(compgen -W "${values.join(" ")}" -- "$cur")); return;;`)
        .join("\n");
      return `    "${s.path.join(" ")}")\n      case "$prev" in\n${choice}\n      esac\n      COMPREPLY=($(compgen -W "${words}" -- "$cur"));;`;
    })
    .join("\n");
  return `# skycert completion for bash: source <(skycert completion bash)
_skycert() {
  local cur prev cmd="" w
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  for w in "\${COMP_WORDS[@]:1:$((COMP_CWORD-1))}"; do
    case "$w" in -*) ;; *) case " ${all.map((s) => s.path.join("/")).filter(Boolean).join(" ")} " in *" \${cmd:+$cmd/}$w "*) cmd="\${cmd:+$cmd/}$w";; esac;; esac
  done
  case "\${cmd//\\// }" in
${cases}
  esac
}
complete -o default -F _skycert skycert
`;
}

/** The bash script through zsh's bashcompinit (which needs compinit's compdef: loaded when the user's zshrc has not); hence no variable named path (zsh ties it to PATH) and $((…)) in slices. */
function zsh(all: Spec[]): string {
  return `#compdef skycert
# skycert completion for zsh: source <(skycert completion zsh)
(( $+functions[compdef] )) || { autoload -U compinit && compinit -i; }
autoload -U +X bashcompinit && bashcompinit
${bash(all)}`;
}

function fish(all: Spec[]): string {
  const lines = ["# skycert completion for fish: skycert completion fish | source", "complete -c skycert -f"];
  for (const s of all) {
    const cond = s.path.length === 0 ? "__fish_use_subcommand" : `__fish_seen_subcommand_from ${s.path[s.path.length - 1]}`;
    for (const sub of s.subcommands) lines.push(`complete -c skycert -n '${cond}' -a ${sub}`);
    for (const p of s.positional) lines.push(`complete -c skycert -n '${cond}' -a ${p}`);
    for (const f of s.flags) {
      if (!f.startsWith("--")) continue;
      const values = s.choices[f];
      lines.push(`complete -c skycert -n '${cond}' -l ${f.slice(2)}${values ? ` -xa '${values.join(" ")}'` : ""}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

export function registerCompletion(program: Command): void {
  program
    .command("completion")
    .summary("print a shell completion script")
    .description("Print a completion script for bash, zsh or fish.")
    .addArgument(new Argument("<shell>", "bash, zsh or fish").choices(["bash", "zsh", "fish"]))
    .addHelpText(
      "after",
      `
Examples:
  source <(skycert completion bash)          # in ~/.bashrc
  source <(skycert completion zsh)           # in ~/.zshrc
  skycert completion fish | source           # in ~/.config/fish/config.fish`,
    )
    .action((shell: "bash" | "zsh" | "fish") => {
      const all = specs(program);
      process.stdout.write(shell === "bash" ? bash(all) : shell === "zsh" ? zsh(all) : fish(all));
    });
}
