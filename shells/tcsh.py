"""The tcsh adapter: csh's rules plus tcsh's modifiers, names and rc file."""

from __future__ import annotations

from shells.csh import CshAdapter


class TcshAdapter(CshAdapter):
    """tcsh as rez starts it: `tcsh rez-shell.csh`, then `tcsh` with HOME pointing at rez's files."""

    name = "tcsh"
    managed_variables = frozenset({"PWD", "OLDPWD", "SHLVL", "HOST", "HOSTTYPE", "VENDOR", "OSTYPE", "MACHTYPE",
                                   "GROUP", "LOGNAME", "USER", "NLSPATH"})
    modifiers = "htreqxul"
    tcsh = True
    # tcsh reads ~/.tcshrc, and ~/.cshrc only when there is no ~/.tcshrc.
    user_rc_files = ("~/.tcshrc", "~/.cshrc")
    interactive_rc = "~/.tcshrc"
    variables_query = ("tcsh", "-f", "-c", "set")
    syntax_check_options = ("-f", "-n")
