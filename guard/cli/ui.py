"""The terminal side of a launch: preview on stderr, results on stdout, the approval prompt."""

from __future__ import annotations

import sys
from typing import TextIO

from rez.utils.graph_utils import view_graph

from guard.decide import PromptAborted, Verdict

_SHORT_ANSWERS = {"o": Verdict.APPROVE_ONCE, "r": Verdict.APPROVE_REMEMBER, "d": Verdict.DENY}
_LONG_ANSWERS = {"once": Verdict.APPROVE_ONCE, "remember": Verdict.APPROVE_REMEMBER, "deny": Verdict.DENY}


class TerminalUI:
    """The terminal side of a launch: preview and prompt on stderr, the reply read from stdin."""

    def __init__(self, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr) -> None:
        self._stdin = stdin
        self._stdout = stdout
        self._stderr = stderr

    def show(self, text: str) -> None:
        if text:
            print(text, file=self._stderr, flush=True)

    def output(self, text: str) -> None:
        self._stdout.write(text if text.endswith("\n") else text + "\n")
        self._stdout.flush()

    def show_graph(self, dot: str) -> None:
        view_graph(dot)

    def ask(self, preview: str, details: str, typed: bool) -> Verdict:
        self.show(preview)
        if typed:
            question = "High-severity findings: type once, remember or deny (details: show): "
        else:
            question = "Approve this environment? [o]nce, [r]emember, [d]eny, [s]how details: "
        while True:
            self._stderr.write(question)
            self._stderr.flush()
            try:
                line = self._stdin.readline()
            except KeyboardInterrupt:
                self._stderr.write("\n")
                raise PromptAborted("interrupted at the prompt") from None
            if not line:
                self._stderr.write("\n")
                raise PromptAborted("end of input at the prompt")
            answer = line.strip().lower()
            if answer in ("s", "show"):
                self.show(details)
                continue
            verdict = _LONG_ANSWERS.get(answer)
            if verdict is None and not typed:
                verdict = _SHORT_ANSWERS.get(answer)
            if verdict is not None:
                return verdict
            self.show(f"unrecognised answer {answer!r}")
