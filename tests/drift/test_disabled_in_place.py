"""A test turned into a skipped one in place is disabled, not rewritten: its removed line and its added
line name the same test, which must not cancel out into "nothing removed, nothing skipped"."""

# The diffs are as git writes them: a blank context line is one space.
# ruff: noqa: W293

from __future__ import annotations

import pytest

from monitors.contracts.forge import FileStat
from monitors.drift.checks import run_checks
from monitors.drift.evidence import build_evidence

PYTEST_MARK_ON_A_REWRITTEN_SIGNATURE = """\
diff --git a/tests/test_login.py b/tests/test_login.py
index 5e6f7a8..9b0c1d2 100644
--- a/tests/test_login.py
+++ b/tests/test_login.py
@@ -28,7 +28,8 @@ def client(app):
     return app.test_client()
 
 
-def test_login_redirects_to_next(client):
+@pytest.mark.skip(reason="flaky after the session change")
+def test_login_redirects_to_next(client, settings):
     response = client.post("/login?next=/cart", data=CREDENTIALS)
     assert response.status_code == 302
     assert response.headers["Location"] == "/cart"
"""

PYTEST_SKIP_IN_A_REWRITTEN_TEST = """\
diff --git a/tests/test_login.py b/tests/test_login.py
index 5e6f7a8..9b0c1d2 100644
--- a/tests/test_login.py
+++ b/tests/test_login.py
@@ -40,6 +40,7 @@ def test_login_redirects_to_next(client):
 
-def test_logout_clears_the_session(client):
+def test_logout_clears_the_session(client, settings):
+    pytest.skip("session store is being replaced")
     client.post("/logout")
     assert "user_id" not in client.session
"""

JS_IT_TO_XIT = """\
diff --git a/web/src/__tests__/cart.test.js b/web/src/__tests__/cart.test.js
index 9a8b7c6..5d4e3f2 100644
--- a/web/src/__tests__/cart.test.js
+++ b/web/src/__tests__/cart.test.js
@@ -18,7 +18,7 @@ describe("Cart", () => {
     expect(cart.total()).toBe(0);
   });
 
-  it("sums the line prices", () => {
+  xit("sums the line prices", () => {
     cart.add({ price: 2 }).add({ price: 3 });
     expect(cart.total()).toBe(5);
   });
"""

JS_TEST_TO_TEST_SKIP_REWRITTEN = """\
diff --git a/web/src/checkout.spec.ts b/web/src/checkout.spec.ts
index 1f2e3d4..6c7b8a9 100644
--- a/web/src/checkout.spec.ts
+++ b/web/src/checkout.spec.ts
@@ -25,7 +25,7 @@ describe("checkout", () => {
     await expect(checkout(cart)).rejects.toThrow("declined");
   });
 
-  test("retries a timeout once", async () => {
+  test.skip("retries a timeout once", async (): Promise<void> => {
     gateway.timeoutOnce();
     await checkout(cart);
   });
"""

RSPEC_IT_TO_XIT = """\
diff --git a/spec/models/user_spec.rb b/spec/models/user_spec.rb
index 3b18e51..a9c7f2e 100644
--- a/spec/models/user_spec.rb
+++ b/spec/models/user_spec.rb
@@ -16,7 +16,7 @@ RSpec.describe User, type: :model do
       expect(user).to be_valid
     end
 
-    it "is invalid without an email" do
+    xit "is invalid without an email" do
       user.email = nil
       expect(user).not_to be_valid
     end
"""

RSPEC_SKIP_IN_A_REWRITTEN_EXAMPLE = """\
diff --git a/spec/models/user_spec.rb b/spec/models/user_spec.rb
index 3b18e51..a9c7f2e 100644
--- a/spec/models/user_spec.rb
+++ b/spec/models/user_spec.rb
@@ -16,7 +16,8 @@ RSpec.describe User, type: :model do
       expect(user).to be_valid
     end
 
-    it "is invalid without an email" do
+    it "is invalid without an email", :aggregate_failures do
+      skip "validations move to the form object"
       user.email = nil
       expect(user).not_to be_valid
     end
"""

REWRITTEN_WITHOUT_A_SKIP = """\
diff --git a/tests/test_login.py b/tests/test_login.py
index 5e6f7a8..9b0c1d2 100644
--- a/tests/test_login.py
+++ b/tests/test_login.py
@@ -28,6 +28,7 @@ def client(app):
 
 
-def test_login_redirects_to_next(client):
+@pytest.mark.parametrize("target", ["/cart", "/account"])
+def test_login_redirects_to_next(client, target):
     response = client.post("/login?next=/cart", data=CREDENTIALS)
     assert response.status_code == 302
"""


@pytest.mark.parametrize(
    ("path", "patch", "marker"),
    [
        (
            "tests/test_login.py",
            PYTEST_MARK_ON_A_REWRITTEN_SIGNATURE,
            '@pytest.mark.skip(reason="flaky after the session change")',
        ),
        ("tests/test_login.py", PYTEST_SKIP_IN_A_REWRITTEN_TEST, 'pytest.skip("session store is being replaced")'),
        ("web/src/__tests__/cart.test.js", JS_IT_TO_XIT, 'xit("sums the line prices", () => {'),
        (
            "web/src/checkout.spec.ts",
            JS_TEST_TO_TEST_SKIP_REWRITTEN,
            'test.skip("retries a timeout once", async (): Promise<void> => {',
        ),
        ("spec/models/user_spec.rb", RSPEC_IT_TO_XIT, 'xit "is invalid without an email" do'),
        ("spec/models/user_spec.rb", RSPEC_SKIP_IN_A_REWRITTEN_EXAMPLE, 'skip "validations move to the form object"'),
    ],
)
def test_a_test_disabled_in_place_is_a_skip_not_a_rewrite(path: str, patch: str, marker: str) -> None:
    ev = build_evidence(["Tidy the suite"], [FileStat(path, "modified", 2, 1)], [("", patch)], head_sha="abc")
    assert ev.skips_added == (f"{path}: {marker}",)
    assert ev.removed_tests == ()  # the test is still there, disabled
    (check,) = run_checks("Make login faster", ev, files_known=True)
    assert (check.name, check.reason) == (
        "tests_removed",
        f"1 skip marker(s) added ({path}: {marker}), and the objective does not ask for it",
    )


def test_a_test_rewritten_without_a_skip_is_neither_removed_nor_skipped() -> None:
    path = "tests/test_login.py"
    ev = build_evidence(["Cover more targets"], [FileStat(path, "modified", 2, 1)], [("", REWRITTEN_WITHOUT_A_SKIP)])
    assert (ev.removed_tests, ev.skips_added) == ((), ())


def test_the_removed_line_may_come_after_the_added_one() -> None:
    # Git writes a block's removed lines first; a patch assembled otherwise must read the same.
    path = "web/src/a.spec.ts"
    body = (
        "@@ -5,3 +5,3 @@ describe('Cart', () => {\n"
        "+  it.skip('adds', () => {\n"
        "-  it('adds', () => {\n"
        "     expect(1).toBe(1);\n"
    )
    patch = f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n{body}"
    ev = build_evidence(["Work"], [FileStat(path, "modified", 1, 1)], [("", patch)])
    assert (ev.removed_tests, ev.skips_added) == ((), (f"{path}: it.skip('adds', () => {{",))


SKIP_MADE_CONDITIONAL = """\
diff --git a/tests/functional/api/test_groups.py b/tests/functional/api/test_groups.py
index 83d032c8..88e5a369 100644
--- a/tests/functional/api/test_groups.py
+++ b/tests/functional/api/test_groups.py
@@ -218,8 +218,9 @@ def test_group_subgroups_projects(gl, user):
     group4.delete()
 
 
-@pytest.mark.skip
-def test_group_wiki(group):
+def test_group_wiki(gitlab_ee, group):
+    if not gitlab_ee:
+        pytest.skip("Requires GitLab EE to run")
     content = "Group Wiki page content"
     wiki = group.wikis.create({"title": "groupwikipage", "content": content})
"""

SKIP_NARROWED_ON_AN_UNCHANGED_TEST = """\
diff --git a/tests/test_paths.py b/tests/test_paths.py
index 1a2b3c4..5d6e7f8 100644
--- a/tests/test_paths.py
+++ b/tests/test_paths.py
@@ -40,7 +40,7 @@ def test_relative_paths(tmp_path):
     assert resolve("a/../b", tmp_path) == tmp_path / "b"
 
 
-@pytest.mark.skip(reason="broken on every platform")
+@pytest.mark.skipif(sys.platform == "win32", reason="no symlinks")
 def test_symlinks_are_followed(tmp_path):
     (tmp_path / "link").symlink_to(tmp_path / "target")
     assert resolve("link", tmp_path) == tmp_path / "target"
"""

RSPEC_XIT_MADE_A_SKIP_IN_THE_BODY = """\
diff --git a/spec/models/user_spec.rb b/spec/models/user_spec.rb
index 3b18e51..a9c7f2e 100644
--- a/spec/models/user_spec.rb
+++ b/spec/models/user_spec.rb
@@ -16,7 +16,8 @@ RSpec.describe User, type: :model do
       expect(user).to be_valid
     end
 
-    xit "is invalid without an email" do
+    it "is invalid without an email" do
+      skip "until the form object lands" unless FormObjects.enabled?
       user.email = nil
       expect(user).not_to be_valid
     end
"""


@pytest.mark.parametrize(
    ("path", "patch"),
    [
        # Seen in python-gitlab: an unconditional skip made one that runs on GitLab EE.
        ("tests/functional/api/test_groups.py", SKIP_MADE_CONDITIONAL),
        ("tests/test_paths.py", SKIP_NARROWED_ON_AN_UNCHANGED_TEST),
        ("spec/models/user_spec.rb", RSPEC_XIT_MADE_A_SKIP_IN_THE_BODY),
    ],
)
def test_a_test_skipped_before_whose_skip_changes_is_not_disabled(path: str, patch: str) -> None:
    ev = build_evidence(["Run the EE tests"], [FileStat(path, "modified", 3, 2)], [("", patch)], head_sha="abc")
    assert (ev.removed_tests, ev.skips_added) == ((), ())
    assert run_checks("Run the group tests against GitLab EE", ev, files_known=True) == []
