"""Budget alerts sent before budget keys named their cap keep their key.

Releases before cap keys keyed a budget alert `<budget>:<value>:<day>`. Had the first run after the
upgrade keyed the same day's alerts `...:cap=<usd>`, dedupe would see new fingerprints: every 80% warning
and 100% page of the days still evaluated (today, a day not yet closed, a catch-up) would go out again.
So that run notes, for every day the ledger or its window holds, the cap each budget had then: on that
day, that cap keeps the old key, and only a cap changed afterwards gets a key of its own. A store that
never held a ledger has sent nothing under the old keys and notes nothing. The note is pruned with the
ledger's days.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from monitors.contracts.monitor import KeyValueState
from monitors.cost.budgets import BudgetConfig
from monitors.cost.evaluate import cap_key

# {day: {budget: cap key}}; its presence says the run that notes it has happened.
KEYS_BEFORE_CAPS = "cost.keys_before_caps"


def caps_keyed_before(
    state: KeyValueState, budgets: Iterable[BudgetConfig], days: Iterable[date], *, had_ledger: bool
) -> dict[str, dict[str, str]]:
    """{day: {budget: the cap whose alerts keep the key without the cap}}, noted on the first call."""
    noted = state.get(KEYS_BEFORE_CAPS)
    if isinstance(noted, dict):
        # Read as written; a hand-edited store loses nothing but its malformed days.
        kept = {day: caps for day, caps in noted.items() if isinstance(caps, dict)}
        return {str(day): {str(b): str(c) for b, c in caps.items()} for day, caps in kept.items()}
    caps = {budget.name: cap_key(budget) for budget in budgets}
    return {day.isoformat(): dict(caps) for day in days} if had_ledger and caps else {}


def save_caps_keyed_before(state: KeyValueState, noted: dict[str, dict[str, str]], keep_from: date) -> None:
    state.put(KEYS_BEFORE_CAPS, {day: caps for day, caps in noted.items() if day >= keep_from.isoformat()})
