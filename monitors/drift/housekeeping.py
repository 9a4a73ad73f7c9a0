"""Housekeeping commits: the ones any repository's change requests carry besides the work itself.

A change request that does one piece of work often ends with a changelog entry, a review follow-up, a
typo or lint fix, a merge of the main branch or a version bump. By embedding, such a subject reads
like another topic, so commit coherence (monitors.drift.coherence) would take it for a second piece of
work. `housekeeping` recognises them by their wording, with no model: a small rule written from what
such commits look like in any repository, with no word that only the calibration data uses (its dev
subjects were read; test played no part in it), so it carries over to repositories it has never seen.

What counts as housekeeping, the subject after a conventional-commit prefix (`chore(ci):`) or
bracket tags (`[pre-commit.ci]`) is dropped:

- merge commits ("Merge branch 'main' into ...", "Merge pull request #12 from ...") and autosquash
  markers (`fixup!`, `squash!`, `amend!`), "wip";
- review follow-ups ("address review comments", "apply suggestions from code review");
- changelog, news fragment, release notes, AUTHORS or contributors entries;
- typo, spelling, grammar, wording, whitespace, lint, format and style fixes (flake8, black, isort,
  mypy, pre-commit, ruff), and subjects that name no topic at all ("cleanup", "fix", "nit");
- version bumps and release preparation ("bump version to 2.1", "release 4.0.2");
- "fix tests", "fix CI", "fix the build".

Documentation is *not* housekeeping: a change request asked to fix a bug that also rewrites a guide
did more than it was asked. A subject that names its topic besides the housekeeping word (most fixes
that are real work) is kept by the length limits in the patterns. Wording can mislead it both ways:
"Add code review app" reads as housekeeping, "Modifications based on review" does not.
"""

from __future__ import annotations

import re

# Conventional-commit type and scope, and bracket tags, say which kind of change, not what: dropped first.
_PREFIX = re.compile(r"^\s*(?:\[[^\]]*\]\s*)*(?:[a-z]+(?:\([^)]*\))?!?:\s*)?", re.IGNORECASE)
_FIX = r"(?:fix|fixed|fixes|fixing|correct|corrected|corrects|correcting|minor|small|some|more|a|the|\s)*"
_REVIEW = r"(?:review|reviews|reviewer|suggestions?|feedback|comments|nits?)"
_NOTES = r"(?:changelog|change log|changes file|news ?fragments?|news entry|release notes|authors|contributors)"
_TIDY = (
    r"(?:typo|typos|spelling|grammar|wording|whitespace|trailing whitespace|indentation|lint|linting|linter"
    r"|flake8|pep ?8|mypy|black|isort|ruff|pre-commit|formatting|format|style|code style)"
)
# Each rule matches from the start of the subject; the `.{0,30}$` tails keep subjects that go on to name a topic.
_RULES = (
    r"merge\b.*\b(?:branch|pull request|into|remote-tracking)\b",
    r"(?:fixup|squash|amend)!",
    r"(?:wip|work in progress)\b",
    r"(?:apply|applied|address|addressed|addresses|addressing|incorporate|implement|handle|respond to|fix|fixes"
    r"|changes from|changes after|adds?|pr)\b.{0,30}\b" + _REVIEW + r"\b",
    r"(?:code )?review\b.{0,30}$",
    r".{0,40}\b" + _NOTES + r"\b.{0,30}$",
    r"(?:add|added|adding) (?:myself|me|self)\b",
    _FIX + _TIDY + r"\b.{0,30}$",
    r"(?:run|ran|apply|applied)\s+(?:black|isort|ruff|pre-commit|the formatter|formatter)\b",
    r"(?:re)?format(?:ted|ting|s)?\b.{0,30}$",
    r"(?:bump|bumped|bumps)\b.{0,20}\bversion\b|version bump|(?:bump|bumped|bumps) (?:to )?v?\d",
    r"(?:prepare|preparing|prepared)?\s*(?:release|version|v)\s*(?:version\s*)?v?\d[\w.\-]*\s*$",
    r"(?:fix|fixed|fixes|fixing|repair)\s+(?:the\s+)?(?:failing\s+|broken\s+)?(?:tests?|ci|build)\b.{0,30}$",
    # A subject that names no topic at all.
    r"(?:cleanup|clean up|clean-up|fix|fixes|fixed|nit|nits|oops|tweak|tweaks|minor|typo|update|updates"
    r"|minor (?:fixes|changes|tweaks)|small (?:fixes|changes|tweaks))\W*$",
)
_HOUSEKEEPING = re.compile(r"^(?:" + "|".join(f"(?:{rule})" for rule in _RULES) + ")", re.IGNORECASE)


def housekeeping(subject: str) -> bool:
    """True when a commit subject is housekeeping around the work (a changelog, a typo fix, a merge...)."""
    return bool(_HOUSEKEEPING.match(_PREFIX.sub("", subject.strip(), count=1)))
