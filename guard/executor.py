"""rez's executor with prepend and append in constant amortised time.

rez 3.4's `ActionManager._pendenv` splits a variable's whole current value on
its separator and joins it again on every prepend or append, and builds the
expanded value once more as an `EscapedString` for interpreters that take
expanded values. N appends to one variable therefore cost at least O(N²).

`PendingRexExecutor` is rez's `RexExecutor` with a manager that keeps each
variable's prepends and appends as pieces and joins them only when the value is
read. It records the same rez actions, calls the interpreter with the same
arguments in the same order, and ends with the same environment as rez's own
(tests/test_executor.py compares both). Interpreters that take expanded values
(rez's `Python`) get rez's own manager, because they receive the whole value on
every call anyway.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

from rez.rex import ActionInterpreter, ActionManager, Appendenv, EnvironmentDict, EscapedString, Prependenv, RexExecutor, Setenv
from rez.utils.data_utils import AttrDictWrapper


class PendingEnviron(MutableMapping[str, str]):
    """Variable values whose prepends and appends are kept as pieces until the value is read.

    Reading a value joins its pieces once and keeps the result, so a variable
    that is extended N times and read M times costs O(N + M × length).
    """

    def __init__(self) -> None:
        self._values: dict[str, str] = {}
        # key -> (prepended pieces, newest last; appended pieces, oldest first)
        self._pieces: dict[str, tuple[list[str], list[str]]] = {}

    def __getitem__(self, key: str) -> str:
        pieces = self._pieces.pop(key, None)
        if pieces is None:
            return self._values[key]
        head, tail = pieces
        head.reverse()
        value = "".join(head) + self._values[key] + "".join(tail)
        self._values[key] = value
        return value

    def __setitem__(self, key: str, value: str) -> None:
        self._pieces.pop(key, None)
        self._values[key] = value

    def __delitem__(self, key: str) -> None:
        del self._values[key]
        self._pieces.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def prepend(self, key: str, text: str, separator: str) -> None:
        """Make the value `text + separator + value`; the key must be set."""
        self._pieces_of(key)[0].append(text + separator)

    def append(self, key: str, text: str, separator: str) -> None:
        """Make the value `value + separator + text`; the key must be set."""
        self._pieces_of(key)[1].append(separator + text)

    def _pieces_of(self, key: str) -> tuple[list[str], list[str]]:
        if key not in self._values:
            raise KeyError(key)
        pieces = self._pieces.get(key)
        if pieces is None:
            pieces = self._pieces[key] = ([], [])
        return pieces


class PendingActionManager(ActionManager):
    """rez's `ActionManager` whose prepend and append do not touch the variable's current value.

    rez sets the new value to `sep.join(addfunc(value, current.split(sep)))`,
    which for a non-empty separator is `value + sep + current` (prepend) or
    `current + sep + value` (append); `PendingEnviron` keeps exactly those pieces.
    """

    environ: PendingEnviron

    def __init__(self, interpreter: ActionInterpreter, **kwargs: Any) -> None:
        super().__init__(interpreter, **kwargs)
        self.environ = PendingEnviron()
        # rez formats and expands every variable name on every call. With the
        # executor's own formatter, a name without braces, `$`, a leading `~` or a
        # match of the interpreter's variable pattern comes back unchanged.
        self._keys_format_to_themselves = getattr(self.formatter, "__func__", None) is RexExecutor.expand
        self._variable_pattern = interpreter.ENV_VAR_REGEX

    def _key(self, key):
        if (
            self._keys_format_to_themselves
            and type(key) is str
            and "{" not in key
            and "}" not in key
            and "$" not in key
            and not key.startswith("~")
            and self._variable_pattern.search(key) is None
        ):
            return key, key
        return super()._key(key)

    def prependenv(self, key, value) -> None:
        if not self._pend(key, value, prepend=True):
            super().prependenv(key, value)

    def appendenv(self, key, value) -> None:
        if not self._pend(key, value, prepend=False):
            super().appendenv(key, value)

    def _pend(self, key: Any, value: Any, prepend: bool) -> bool:
        """Apply one prepend or append as rez 3.4 does; return False to leave it to rez's own code."""
        interpreter = self.interpreter
        if interpreter.expand_env_vars:
            return False
        unexpanded_key, expanded_key = self._key(key)
        separator = self._env_sep(expanded_key)
        if not isinstance(separator, str) or not separator:
            # rez's str.split raises on an empty separator; let it do so itself.
            return False
        unexpanded_value, expanded_value = self._value(value)
        environ = self.environ

        # As in rez: a parent variable is exposed on its first reference.
        if expanded_key not in environ and (self.parent_variables is True or expanded_key in self.parent_variables):
            environ[expanded_key] = self.parent_environ.get(expanded_key, "")
            interpreter._saferefenv(unexpanded_key)

        # As in rez: the first reference to a variable sets it.
        if expanded_key not in environ:
            self.actions.append(Setenv(unexpanded_key, unexpanded_value))
            environ[expanded_key] = str(expanded_value)
            interpreter.setenv(unexpanded_key, unexpanded_value)
            return True

        action = Prependenv if prepend else Appendenv
        self.actions.append(action(unexpanded_key, unexpanded_value))
        token = self._keytoken(expanded_key)
        if prepend:
            joined = EscapedString.join(separator, [unexpanded_value, token])
            environ.prepend(expanded_key, str(expanded_value), separator)
        else:
            joined = EscapedString.join(separator, [token, unexpanded_value])
            environ.append(expanded_key, str(expanded_value), separator)

        forward = interpreter.prependenv if prepend else interpreter.appendenv
        try:
            forward(unexpanded_key, unexpanded_value)
        except NotImplementedError:
            interpreter.setenv(unexpanded_key, joined)
        return True


class PendingRexExecutor(RexExecutor):
    """rez's `RexExecutor` driving a `PendingActionManager` when its interpreter takes unexpanded values."""

    def __init__(
        self,
        interpreter: ActionInterpreter | None = None,
        globals_map: dict | None = None,
        parent_environ: Mapping[str, str] | None = None,
        parent_variables: Any = None,
        shebang: bool = True,
        add_default_namespaces: bool = True,
    ) -> None:
        # rez's constructor builds its own manager; the shebang is held back so
        # that the manager kept is the one that records it.
        super().__init__(interpreter=interpreter, globals_map=globals_map, parent_environ=parent_environ,
                         parent_variables=parent_variables, shebang=False,
                         add_default_namespaces=add_default_namespaces)
        if not self.interpreter.expand_env_vars:
            self._use_manager(PendingActionManager(
                self.interpreter,
                formatter=self.expand,
                parent_environ=parent_environ,
                parent_variables=parent_variables,
            ))
        if shebang:
            self.manager.shebang()

    def _use_manager(self, manager: ActionManager) -> None:
        # The same bindings rez's RexExecutor.__init__ makes for its manager (rez 3.4).
        self.manager = manager
        self.environ = EnvironmentDict(manager)
        self.bind("env", AttrDictWrapper(self.environ))
        for name, method in manager.get_public_methods():
            self.bind(name, method)
