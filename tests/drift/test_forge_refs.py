"""Which forge and change request a trace names: URLs and references name their forge, numbers ask config."""

from __future__ import annotations

import pytest

from monitors.drift.candidates import MrRef, parse_mr_ref
from monitors.drift.config import GoalDriftConfig

CONFIG = GoalDriftConfig(repositories={"acme/web": {"forge": "github", "scope": ["web/"]}})


@pytest.mark.parametrize(
    ("mr", "repo", "expected"),
    [
        ("https://github.com/acme/api/pull/17", None, MrRef("acme/api", 17, "github")),
        ("https://github.example.com/acme/api/pull/17/files", "other/repo", MrRef("acme/api", 17, "github")),
        ("acme/api#17", None, MrRef("acme/api", 17, "github")),
        ("https://gitlab.example.com/group/sub/app/-/merge_requests/5", None, MrRef("group/sub/app", 5, "gitlab")),
        ("group/app!5", None, MrRef("group/app", 5, "gitlab")),
        ("#9", "acme/web", MrRef("acme/web", 9, "github")),  # the repository's configured forge
        (9, "group/app", MrRef("group/app", 9, "gitlab")),  # the default forge
    ],
)
def test_references_name_their_forge(mr, repo, expected: MrRef) -> None:
    assert parse_mr_ref(mr, repo, None, CONFIG.forge_of) == expected


def test_a_github_repository_is_owner_slash_name() -> None:
    reason = parse_mr_ref(3, "group/sub/app", None, lambda repo: "github")
    assert reason == "not a GitHub repository (owner/name): 'group/sub/app'"


def test_names_read_like_each_forge_and_scope_comes_from_config() -> None:
    assert str(MrRef("acme/web", 9, "github")) == "acme/web#9" and str(MrRef("g/a", 9)) == "g/a!9"
    assert MrRef("acme/web", 9, "github").cache_key == "github:acme/web#9"
    assert CONFIG.scope_of("acme/web") == ("web/",) and CONFIG.scope_of("other/x") == ()
    assert GoalDriftConfig(forge="github").forge_of("any/repo") == "github"
