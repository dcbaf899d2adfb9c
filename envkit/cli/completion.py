"""Shell completion for bash, zsh and fish: ``envkit completion SHELL`` prints a small script
that asks envkit itself for the candidates (``envkit __complete WORDS...``), the way Cobra
programs (docker, kubectl) do. So the candidates are always this envkit's: its commands and
options from the command table, the environments and services of the stack file that
``-f``/``$ENVKIT_FILE``/the default names, read without validating it (a file half-way
through an edit still completes).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

__all__ = ["SCRIPTS", "candidates"]

FILES = ":files"  # tells the shell script to complete file names itself

_BASH = r"""# envkit completion for bash: eval "$(envkit completion bash)"
_envkit() {
    local IFS=$'\n' out
    out=$(envkit __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
    if [[ "$out" == ":files" ]]; then
        COMPREPLY=($(compgen -f -- "${COMP_WORDS[COMP_CWORD]}"))
    else
        COMPREPLY=($(compgen -W "$out" -- "${COMP_WORDS[COMP_CWORD]}"))
    fi
}
complete -o default -F _envkit envkit
"""

_ZSH = r"""#compdef envkit
# envkit completion for zsh: eval "$(envkit completion zsh)"
_envkit() {
    local -a cands
    cands=("${(@f)$(envkit __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    if [[ "${cands[1]}" == ":files" ]]; then
        _files
    else
        compadd -- "${cands[@]}"
    fi
}
compdef _envkit envkit
"""

_FISH = r"""# envkit completion for fish: envkit completion fish | source
function __envkit_complete
    set -l tokens (commandline -opc) (commandline -ct)
    set -l out (envkit __complete $tokens[2..-1] 2>/dev/null)
    if test "$out" = ":files"
        __fish_complete_path (commandline -ct)
    else
        printf '%s\n' $out
    end
end
complete -c envkit -f -a '(__envkit_complete)'
"""

SCRIPTS = {"bash": _BASH, "zsh": _ZSH, "fish": _FISH}

_GLOBAL_WITH_VALUE = ("-f", "--file")


def _stack_names(file: str | None) -> tuple[list[str], list[str]]:
    """(environments, services) of the stack, or empty lists when it cannot be read. The
    stack is read whole (a Compose file's override and implicit environment included); a
    file that does not validate still gives the names its text holds."""
    from envkit.errors import EnvkitError
    from envkit.stackfile.document import load
    from envkit.stackfile.pipeline import DEFAULT_FILE, environments, find_stack_files, read

    files = [file] if file else [os.environ["ENVKIT_FILE"]] if os.environ.get("ENVKIT_FILE") else []
    files = files or find_stack_files(".") or [DEFAULT_FILE]
    try:
        doc = read(files)
        envs = environments(doc)
    except EnvkitError:
        try:
            doc = load(files[0], display=files[0])
        except EnvkitError:
            return [], []
        raw = doc.data.get("environments")
        envs = [str(e) for e in raw] if isinstance(raw, dict) else []
    services = doc.data.get("services")
    return envs, [str(s) for s in services] if isinstance(services, dict) else []


def _option_takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0 and bool(action.option_strings)


def candidates(words: Sequence[str]) -> list[str]:
    """What may come at the last of ``words`` (the word being completed, maybe empty)."""
    from envkit.cli.table import COMMANDS, build_parser

    *before, current = list(words) or [""]
    file: str | None = None
    command: str | None = None
    rest: list[str] = []
    i = 0
    while i < len(before):
        word = before[i]
        if command is None and word in _GLOBAL_WITH_VALUE:
            file = before[i + 1] if i + 1 < len(before) else None
            i += 2
            continue
        if command is None and word.startswith("--file="):
            file = word.partition("=")[2]
        elif command is None and not word.startswith("-"):
            command = word
        elif command is not None:
            rest.append(word)
        i += 1
    if command is None:
        if before and before[-1] in _GLOBAL_WITH_VALUE:
            return [FILES]
        if current.startswith("-"):
            return ["--file", "--debug", "--help", "--version"]
        return [*COMMANDS, "completion"]
    if command == "completion":
        return list(SCRIPTS) if not rest else []
    if command not in COMMANDS:
        return []
    parser = build_parser(command)
    by_flag = {flag: a for a in parser._actions for flag in a.option_strings}
    if rest and rest[-1] in by_flag and _option_takes_value(by_flag[rest[-1]]):
        action = by_flag[rest[-1]]
        if action.dest == "file":
            return [FILES]
        return [str(c) for c in action.choices] if action.choices else []
    if current.startswith("-"):
        return sorted(by_flag)
    # Which positional is being completed: count the positionals already given; a
    # -f/--file after the command names the stack file too.
    given = 0
    i = 0
    while i < len(rest):
        word = rest[i]
        flag = by_flag.get(word)
        if flag is not None and _option_takes_value(flag):
            if flag.dest == "file" and i + 1 < len(rest):
                file = rest[i + 1]
            i += 2
            continue
        if word.startswith("--file="):
            file = word.partition("=")[2]
        elif not word.startswith("-"):
            given += 1
        i += 1
    positionals = [a for a in parser._actions if not a.option_strings and a.dest != "help"]
    if given >= len(positionals):
        last = positionals[-1] if positionals else None
        if last is None or last.nargs not in ("*", "+", argparse.REMAINDER):
            return []
        action = last
    else:
        action = positionals[given]
    if isinstance(action, argparse._SubParsersAction):
        return list(action.choices) if given == 0 else []
    envs, services = _stack_names(file)
    metavar = str(action.metavar or "")
    if metavar == "ENV":
        return envs
    if metavar.startswith("SERVICE"):
        return services
    if metavar == "FILE":
        return [FILES]
    return []
