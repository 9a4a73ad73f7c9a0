"""The bundled demo data: regenerates byte for byte, parses, and holds the facts its README promises.

Everything is computed from the committed files with the suite's own parser, independently of the
generator's bookkeeping, so a change to the generator that breaks a planted fact fails here.
"""

from __future__ import annotations

import gzip
import json
import re
import statistics
import sys
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from monitors.contracts.records import MalformedRecord, Observation, parse_observation

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "monitors" / "demo"
CAP, USER_CAP = 40.0, 5.0
TUESDAY, THURSDAY, SATURDAY = date(2026, 11, 17), date(2026, 11, 19), date(2026, 11, 21)


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import make_demo_data

        assert make_demo_data.main(["--out", str(out)]) == 0
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return out


@pytest.fixture(scope="module")
def lines() -> list[str]:
    with gzip.open(DEMO / "observations.jsonl.gz", "rt", encoding="utf-8") as fh:
        return fh.read().splitlines()


def _parse(line: str) -> Observation | str:
    try:
        return parse_observation(json.loads(line))
    except (ValueError, MalformedRecord) as exc:
        return str(exc)


@pytest.fixture(scope="module")
def rows(lines: list[str]) -> list[Observation]:
    return [r for r in map(_parse, lines) if isinstance(r, Observation)]


def _sum_by(rows: list[Observation], key) -> dict:  # type: ignore[no-untyped-def]
    out: dict = defaultdict(float)
    for obs in rows:
        out[key(obs)] += obs.total_cost
    return out


@pytest.fixture(scope="module")
def daily(rows: list[Observation]) -> dict[date, float]:
    return _sum_by(rows, lambda o: o.start_time.date())


def test_regenerating_gives_byte_identical_files(regenerated: Path) -> None:
    for name in ("observations.jsonl.gz", "gitlab.json"):
        assert (regenerated / name).read_bytes() == (DEMO / name).read_bytes(), name


def test_only_the_four_planted_lines_are_malformed(lines: list[str]) -> None:
    errors = [r for r in map(_parse, lines) if isinstance(r, str)]
    assert len(errors) == 4
    assert any(e.startswith("startTime") for e in errors)
    assert any("'abc'" in e for e in errors)
    assert any("-0.42" in e for e in errors)
    assert sum("totalCost" not in e and not e.startswith("startTime") for e in errors) == 1  # the cut line


def test_covers_21_utc_days_and_stays_small(rows: list[Observation]) -> None:
    days = {o.start_time.date() for o in rows}
    assert min(days) == date(2026, 11, 2) and max(days) == date(2026, 11, 22) and len(days) == 21
    assert max(o.start_time for o in rows) < datetime(2026, 11, 23, tzinfo=UTC)
    assert (DEMO / "observations.jsonl.gz").stat().st_size < 3_000_000
    demo_traces = Counter(o.start_time.date() for o in rows if o.is_root and o.start_time.day >= 16)
    assert min(demo_traces.values()) >= 200  # a few hundred traces a day in the demo week


def test_daily_totals_hold_the_planted_budget_days(daily: dict[date, float]) -> None:
    for day, total in daily.items():
        if day not in (THURSDAY, SATURDAY):
            assert 18 <= total <= 28, (day, total)
    assert 0.80 * CAP <= daily[THURSDAY] < CAP and abs(daily[THURSDAY] / CAP - 0.85) < 0.02
    assert 50 <= daily[SATURDAY] <= 55


def _crossing(rows: list[Observation], day: date, limit: float) -> datetime | None:
    total = 0.0
    for obs in sorted((o for o in rows if o.start_time.date() == day), key=lambda o: o.start_time):
        total += obs.total_cost
        if total >= limit:
            return obs.start_time
    return None


def test_saturday_crosses_80_percent_mid_day_and_100_percent_later(rows: list[Observation]) -> None:
    warn, cap = _crossing(rows, SATURDAY, 0.8 * CAP), _crossing(rows, SATURDAY, CAP)
    assert warn is not None and cap is not None
    assert 11 <= warn.hour < 14 and warn.hour < cap.hour < 18
    by_agent = _sum_by([o for o in rows if o.start_time.date() == SATURDAY], lambda o: o.trace_name)
    assert by_agent["llm-fix"] > 0.6 * sum(by_agent.values())
    assert _crossing(rows, THURSDAY, CAP) is None


def test_only_svc_llm_fix_on_saturday_exceeds_the_user_budget(rows: list[Observation]) -> None:
    per_user_day = _sum_by(rows, lambda o: (o.user_id, o.start_time.date()))
    over = {key for key, cost in per_user_day.items() if cost > USER_CAP}
    assert over == {("svc-llm-fix", SATURDAY)}


def test_mr_review_spends_three_times_its_usual_on_tuesday(rows: list[Observation]) -> None:
    review = _sum_by([o for o in rows if o.trace_name == "mr-review"], lambda o: o.start_time.date())
    usual = statistics.median(v for d, v in review.items() if d < date(2026, 11, 16) and d.weekday() < 5)
    assert 2.7 <= review[TUESDAY] / usual <= 3.3
    assert sum(v for d, v in _sum_by(rows, lambda o: o.start_time.date()).items() if d == TUESDAY) < 0.8 * CAP


def test_readme_daily_table_matches_the_data(rows: list[Observation], daily: dict[date, float]) -> None:
    table = re.findall(r"^\| (2026-\d\d-\d\d) \| \w+ \| ([\d.]+) \|[^|]*\|(.*)$", _readme(), re.MULTILINE)
    assert len(table) == 21
    agents = ("pipeline-medic", "mr-review", "llm-fix", "issue-executor", "release-notes")
    per_agent = _sum_by(rows, lambda o: (o.start_time.date(), o.trace_name))
    for day_text, total, rest in table:
        day = date.fromisoformat(day_text)
        assert float(total) == round(daily[day], 2), day
        cells = [float(c) for c in rest.split("|")[:5]]
        assert cells == [round(per_agent[(day, a)], 2) for a in agents], day


def _readme() -> str:
    return (DEMO / "README.md").read_text(encoding="utf-8")


def _planted() -> dict[str, str]:
    """name -> session id, from the README's planted-session table."""
    found = re.findall(r"^\| ([\w!/.-]+) \| \w+ \| ([\w-]+-\d{4}-\d{4}) \|", _readme(), re.MULTILINE)
    return dict(found)


def _sessions(rows: list[Observation]) -> dict[str, list[Observation]]:
    out: dict[str, list[Observation]] = defaultdict(list)
    for obs in sorted(rows, key=lambda o: o.start_time):
        if obs.type == "TOOL" and obs.start_time.day >= 16:
            out[obs.group_key].append(obs)
    return out


def _max_errors_in_a_row(calls: list[Observation]) -> int:
    best = run = 0
    for call in calls:
        run = run + 1 if call.level == "ERROR" else 0
        best = max(best, run)
    return best


def test_planted_sessions_show_their_pattern_and_normal_ones_stay_clean(rows: list[Observation]) -> None:
    planted, sessions = _planted(), _sessions(rows)
    assert len(planted) == 32  # 20 MR sessions + 11 audit plants + the runaway
    repeats = {
        k: max(Counter((c.name, json.dumps(c.input, sort_keys=True)) for c in v).values()) for k, v in sessions.items()
    }
    for key, calls in sessions.items():
        if key not in planted.values():
            assert 5 <= len(calls) <= 15 and repeats[key] <= 2 and _max_errors_in_a_row(calls) <= 1, key
    assert len(sessions[planted["runaway"]]) >= 60
    assert _max_errors_in_a_row(sessions[planted["error-storm"]]) >= 5
    assert repeats[planted["repeat-logs"]] >= 5 and repeats[planted["repeat-read"]] >= 4
    names = [c.name for c in sessions[planted["backtrack"]]]
    assert names.index("delete_file") < len(names) - 1 - names[::-1].index("read_file")


def test_gitlab_fixture_holds_the_merge_requests(rows: list[Observation]) -> None:
    projects = json.loads((DEMO / "gitlab.json").read_text(encoding="utf-8"))["projects"]
    refs = {
        (o.metadata["repo"], str(o.metadata["mr_iid"]))
        for o in rows
        if o.metadata.get("mr_iid") and not str(o.metadata["mr_iid"]).startswith("https://github.com/")
    }
    assert len(refs) == 20
    missing = {r for r in refs if r[1] not in projects.get(r[0], {}).get("merge_requests", {})}
    assert missing == {("platform/web", "404")}
    mrs = {(repo, iid): mr for repo, p in projects.items() for iid, mr in p["merge_requests"].items()}
    assert mrs[("platform/api", "219")]["commits"] == []
    for key, mr in mrs.items():
        dates = [datetime.fromisoformat(c["committed_date"]) for c in mr["commits"]]
        newest = dates.index(max(dates)) if dates else 0
        assert newest == (1 if key == ("platform/api", "216") else 0), key
        assert all(set(c) == {"id", "title", "message", "committed_date"} for c in mr["commits"])


def test_github_fixture_holds_the_pull_requests(rows: list[Observation]) -> None:
    repos = json.loads((DEMO / "github.json").read_text(encoding="utf-8"))["repos"]
    urls = {
        str(o.metadata["mr_iid"]) for o in rows if str(o.metadata.get("mr_iid", "")).startswith("https://github.com/")
    }
    assert urls == {f"https://github.com/acme-labs/agent-sdk/pull/{n}" for n in (57, 58, 59)}
    pulls = repos["acme-labs/agent-sdk"]["pulls"]
    assert sorted(pulls) == ["57", "58", "59"]
    assert all(p["html_url"] in urls and p["commits"] and p["files"] for p in pulls.values())
    # The GitHub sessions cost nothing: the cost figures above do not depend on them.
    sessions = {o.trace_id for o in rows if str(o.metadata.get("mr_iid", "")).startswith("https://github.com/")}
    assert sum(o.total_cost or 0 for o in rows if o.trace_id in sessions) == 0
