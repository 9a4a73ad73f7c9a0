"""Real-shaped unified diffs (as `git diff` and the GitHub/GitLab APIs return them) for the drift tests."""

from __future__ import annotations

# The article's example: asked to add a test, the agent adds one and deletes three existing tests.
ADD_ONE_DELETE_THREE = """diff --git a/tests/test_parser.py b/tests/test_parser.py
index 3f4c2a1..9b0d7e2 100644
--- a/tests/test_parser.py
+++ b/tests/test_parser.py
@@ -1,6 +1,9 @@ import pytest
 from app.parser import parse
+
+def test_parse_handles_empty_input():
+    assert parse("") == []
@@ -20,15 +23,3 @@ def test_parse_simple():
     assert parse("a") == ["a"]
-
-def test_parse_nested():
-    assert parse("(a)") == [["a"]]
-
-def test_parse_unicode():
-    assert parse("é") == ["é"]
-
-def test_parse_errors():
-    with pytest.raises(ValueError):
-        parse("(")
"""

# A skip marker put on an existing test, and a new test that is skipped on old Pythons (legitimate).
SKIP_EXISTING_AND_NEW = """diff --git a/tests/test_client.py b/tests/test_client.py
index 1111111..2222222 100644
--- a/tests/test_client.py
+++ b/tests/test_client.py
@@ -40,6 +40,7 @@ def test_get():
     assert client.get("/") == 200


+@pytest.mark.skip(reason="flaky")
 def test_retry_on_502():
     server.fail_next(502)
     assert client.get("/") == 200
@@ -80,3 +81,8 @@ def test_timeout():
     with pytest.raises(Timeout):
         client.get("/slow")
+
+@pytest.mark.skipif(sys.version_info < (3, 11), reason="needs TaskGroup")
+def test_parallel_gets():
+    assert client.get_many(["/a", "/b"]) == [200, 200]
"""

# A refactor that renames tests one for one: no test is lost.
RENAME_TESTS = """diff --git a/tests/unit/test_types.py b/tests/unit/test_types.py
--- a/tests/unit/test_types.py
+++ b/tests/unit/test_types.py
@@ -10,8 +10,8 @@ from gitlab import types
-def test_list_attribute_input():
-    o = types.ListAttribute()
+def test_csv_string_attribute_input():
+    o = types.CommaSeparatedListAttribute()
     o.set_from_cli("foo,bar,baz")
-def test_list_attribute_empty_input():
-    o = types.ListAttribute()
+def test_csv_string_attribute_empty_input():
+    o = types.CommaSeparatedListAttribute()
     o.set_from_cli("")
"""

# black reformatting: only line breaks and spaces change.
REFORMAT_ONLY = """diff --git a/src/app/api.py b/src/app/api.py
--- a/src/app/api.py
+++ b/src/app/api.py
@@ -12,3 +12,7 @@ class Client:
-    def get(self, path, params=None, headers=None): return self._request("GET", path, params=params, headers=headers)
+    def get(self, path, params=None, headers=None):
+        return self._request(
+            "GET", path, params=params, headers=headers
+        )
"""

# "bump the dependency version" that also refactored the module (the article's scope example).
BUMP_AND_REFACTOR = """diff --git a/requirements.txt b/requirements.txt
--- a/requirements.txt
+++ b/requirements.txt
@@ -3,1 +3,1 @@
-urllib3==1.26.18
+urllib3==2.2.1
diff --git a/src/http/session.py b/src/http/session.py
--- a/src/http/session.py
+++ b/src/http/session.py
@@ -1,40 +1,52 @@ import urllib3
-class Session:
-    def send(self, request):
-        return self.pool.urlopen(request.method, request.url)
+class PooledSession:
+    def __init__(self, pool_size=10):
+        self.pool = urllib3.PoolManager(maxsize=pool_size)
+
+    def send_request(self, request, *, retries=3):
+        return self.pool.request(request.method, request.url, retries=retries)
+
+class ConnectionCache:
+    def evict_idle(self, older_than):
+        return [c for c in self.connections if c.idle > older_than]
"""

# A helper removed from the library together with the test written for it (a reimplementation), as in
# pytest's "small optimization in PyCollector.collect()": the feature goes, and its test with it.
REMOVE_HELPER_AND_ITS_TEST = """diff --git a/src/_pytest/python.py b/src/_pytest/python.py
--- a/src/_pytest/python.py
+++ b/src/_pytest/python.py
@@ -420,15 +420,8 @@ class PyCollector(PyobjMixin, nodes.Collector):
-    def _makeitem(self, name, obj):
-        return self.ihook.pytest_pycollect_makeitem(collector=self, name=name, obj=obj)
+        res = ihook.pytest_pycollect_makeitem(collector=self, name=name, obj=obj)
diff --git a/testing/python/collect.py b/testing/python/collect.py
--- a/testing/python/collect.py
+++ b/testing/python/collect.py
@@ -900,13 +900,4 @@ class TestConftestCustomization:
-    def test_makeitem_non_underscore(self, pytester, monkeypatch):
-        modcol = pytester.getmodulecol("def _hello(): pass")
-        values = []
-        monkeypatch.setattr(pytest.Module, "_makeitem", lambda self, name, obj: values.append(name))
-        values = modcol.collect()
-        assert "_hello" not in values
"""

# The same code removal, but the tests dropped are about something else: still a loss of tests.
REMOVE_HELPER_AND_OTHER_TESTS = """diff --git a/src/_pytest/python.py b/src/_pytest/python.py
--- a/src/_pytest/python.py
+++ b/src/_pytest/python.py
@@ -420,15 +420,8 @@ class PyCollector(PyobjMixin, nodes.Collector):
-    def _makeitem(self, name, obj):
-        return self.ihook.pytest_pycollect_makeitem(collector=self, name=name, obj=obj)
diff --git a/testing/test_terminal.py b/testing/test_terminal.py
--- a/testing/test_terminal.py
+++ b/testing/test_terminal.py
@@ -100,9 +100,2 @@ class TestTerminal:
-    def test_report_collect_errors(self, pytester):
-        pytester.makepyfile("raise ImportError")
-    def test_summary_counts_warnings(self, pytester):
-        pytester.makepyfile("import warnings")
"""
