"""Rules on variables that make interpreters, shells and tools run code or reroute traffic."""

from __future__ import annotations

from collections.abc import Iterator

from guard.findings import Finding
from guard.rules.catalog import PROXY_VARIABLES
from guard.rules.view import SETTING_OPS, PlanView


def check(view: PlanView) -> Iterator[Finding]:
    """Yield env.runs-code, env.pythonpath and env.proxy findings."""
    code_variables = frozenset(view.policy.code_variables)
    for item in view.actions(*SETTING_OPS):
        action = item.action
        key = action.key or ""
        if key in code_variables:
            yield view.finding(
                "env.runs-code",
                f"{action.op} {key}={action.text}: {key} makes a program run extra code or options each time "
                "it starts; approve only if you know what the value loads",
                item,
            )
        if key.lower() in PROXY_VARIABLES:
            yield view.finding(
                "env.proxy",
                f"{action.op} {key}={action.text}: network traffic from the shell goes through this proxy "
                "setting; approve only if the proxy is your site's",
                item,
            )

    for item in view.env_actions({"PYTHONPATH"}):
        for entry in view.path_entries(item.action):
            if entry.is_self or entry.text == "":
                continue
            if entry.resolved is None:
                reason = f"depends on {', '.join(entry.unresolved)} from the shell's environment"
            elif view.within_any_root(entry.resolved) or view.within_allowed_prefix(entry.resolved):
                continue
            else:
                reason = "lies outside every package root and the policy's allowed prefixes"
            yield view.finding(
                "env.pythonpath",
                f"PYTHONPATH entry {entry.text!r} {reason}, so Python may import modules no package "
                "provides; check where the folder comes from",
                item,
            )
