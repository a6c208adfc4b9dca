"""The catalog of rules: ids, default severities, and the names the rules look for.

This module imports nothing from the rest of the guard, so the policy loader can
validate rule ids in policy files without loading the rules themselves.
"""

from __future__ import annotations

from typing import Final

from guard.fastclass import dataclass
from guard.findings import Severity
from guard.sandbox.findings import SANDBOX_RULES


@dataclass(frozen=True, slots=True)
class Rule:
    """A rule's id, default severity and one-line meaning."""

    id: str
    default: Severity
    summary: str

    @property
    def family(self) -> str:
        """The part of the id before the dot, which names the rule's module."""
        return self.id.split(".", 1)[0]


_PLAN_RULES: Final[tuple[Rule, ...]] = (
    Rule("guard.variable", Severity.BLOCK, "a package sets or unsets a variable the guard itself reads"),
    Rule("guard.command", Severity.BLOCK, "a package puts a `rez-guard` command or alias in the shell"),
    Rule("guard.tamper", Severity.BLOCK, "a startup command mentions the guard's own folders or files"),
    Rule("loader.preload", Severity.HIGH, "a package makes the dynamic loader inject a library"),
    Rule("loader.library-path", Severity.WARN, "a library path entry lies outside the package's root"),
    Rule("env.runs-code", Severity.HIGH, "a variable makes an interpreter, shell or tool run code"),
    Rule("env.pythonpath", Severity.WARN, "a PYTHONPATH entry lies outside every package root"),
    Rule("env.proxy", Severity.HIGH, "a package routes network traffic through a proxy"),
    Rule("path.empty-entry", Severity.HIGH, "an empty path entry, which means the current folder"),
    Rule("path.dot-entry", Severity.HIGH, "a `.` path entry, which means the current folder"),
    Rule("path.rez-dot-entry", Severity.WARN, "rez's own system path detection appends `.` to PATH"),
    Rule("path.relative-entry", Severity.HIGH, "a relative path entry, which depends on the current folder"),
    Rule("path.missing-dir", Severity.WARN, "a path entry names a folder that does not exist"),
    Rule("path.writable-dir", Severity.HIGH, "a path entry's folder can be changed by other users"),
    Rule("path.foreign-owner", Severity.WARN, "a path entry's folder belongs to an untrusted user"),
    Rule("path.outside-roots", Severity.WARN, "a path entry lies outside every package root and allowed prefix"),
    Rule("path.shadows-command", Severity.HIGH, "a prepended folder holds a common command"),
    Rule("alias.shadows-command", Severity.HIGH, "an alias replaces a shell builtin or a common command"),
    Rule("alias.defined", Severity.INFO, "a package defines an alias"),
    Rule("source.outside-root", Severity.HIGH, "a sourced file lies outside the package's root"),
    Rule("source.writable", Severity.HIGH, "a sourced file can be changed by other users"),
    Rule("source.unreadable", Severity.HIGH, "a sourced file's content could not be read when recorded"),
    Rule("source.changed", Severity.HIGH, "a sourced file changed after the plan was recorded"),
    Rule("source.file", Severity.INFO, "a package sources a file at shell start"),
    Rule("command.run", Severity.WARN, "a package runs a command at shell start"),
    Rule("value.command-substitution", Severity.HIGH, "a value runs a command when the shell expands it"),
    Rule("value.expansion", Severity.WARN, "a value depends on the environment the shell starts in"),
    Rule("repo.untrusted", Severity.WARN, "a package comes from a repository the policy does not trust"),
)

# An operation the recording child's sandbox denied is a finding too, so the policy can set its severity.
RULES: Final[tuple[Rule, ...]] = (
    *_PLAN_RULES,
    *(Rule(rule.id, rule.default, rule.summary) for rule in SANDBOX_RULES),
)
RULES_BY_ID: Final[dict[str, Rule]] = {rule.id: rule for rule in RULES}

# Variables the guard reads to find its policy, trust store and audit log, and
# ZDOTDIR, which moves zsh's startup files away from what the preview shows.
GUARD_VARIABLES: Final = frozenset({"XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "HOME", "ZDOTDIR"})
GUARD_VARIABLE_PREFIX: Final = "REZ_GUARD_"
GUARD_COMMAND: Final = "rez-guard"

PRELOAD_VARIABLES: Final = frozenset({"LD_PRELOAD", "LD_AUDIT", "DYLD_INSERT_LIBRARIES"})
LIBRARY_PATH_VARIABLES: Final = frozenset({"LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", "DYLD_FALLBACK_LIBRARY_PATH"})

CODE_VARIABLES: Final[tuple[str, ...]] = (
    "PYTHONSTARTUP",
    "PYTHONHOME",
    "PERL5OPT",
    "PERL5LIB",
    "RUBYOPT",
    "NODE_OPTIONS",
    "JAVA_TOOL_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "_JAVA_OPTIONS",
    "BASH_ENV",
    "ENV",
    "PROMPT_COMMAND",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "LESSOPEN",
    "LESSCLOSE",
)

# Compared case-insensitively: tools read both spellings.
PROXY_VARIABLES: Final = frozenset({"http_proxy", "https_proxy", "ftp_proxy", "all_proxy", "no_proxy"})

PATH_VARIABLES: Final[tuple[str, ...]] = (
    "PATH",
    "LD_LIBRARY_PATH",
    "DYLD_LIBRARY_PATH",
    "DYLD_FALLBACK_LIBRARY_PATH",
    "PYTHONPATH",
    "PERL5LIB",
    "RUBYLIB",
    "NODE_PATH",
    "CLASSPATH",
)

COMMON_COMMANDS: Final[tuple[str, ...]] = (
    "sudo", "su", "doas", "pkexec", "passwd", "login", "kinit",
    "ssh", "scp", "sftp", "ssh-add", "ssh-agent", "ssh-keygen", "gpg", "curl", "wget",
    "sh", "bash", "zsh", "csh", "tcsh", "env", "xargs",
    "ls", "cp", "mv", "rm", "cat", "chmod", "chown", "ln", "mkdir", "find", "grep", "sed", "awk",
    "tar", "ps", "kill", "top", "id", "whoami", "which", "less", "more", "man", "vi", "vim", "nano",
    "git", "make", "python", "python3", "pip", "pip3", "perl", "ruby", "node",
    "rez", "rez-env",
)

SHELL_BUILTINS: Final = frozenset({
    ".", ":", "[", "alias", "bg", "bind", "break", "builtin", "caller", "cd", "command", "compgen",
    "complete", "continue", "declare", "dirs", "disown", "echo", "enable", "eval", "exec", "exit",
    "export", "false", "fc", "fg", "getopts", "hash", "help", "history", "jobs", "kill", "let",
    "local", "logout", "popd", "printf", "pushd", "pwd", "read", "readonly", "return", "set",
    "shift", "shopt", "source", "suspend", "test", "times", "trap", "true", "type", "typeset",
    "ulimit", "umask", "unalias", "unset", "wait",
    # zsh and csh builtins that bash lacks
    "autoload", "emulate", "rehash", "setenv", "unsetenv", "where", "whence",
})

# System folders a package may add to a path variable without a finding.
ALLOWED_PREFIXES: Final[tuple[str, ...]] = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64")
