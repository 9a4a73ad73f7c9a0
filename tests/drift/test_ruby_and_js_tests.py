"""Tests removed or disabled in Ruby (RSpec, minitest) and JavaScript/TypeScript change requests."""

# The diffs are as git writes them: a blank context line is one space.
# ruff: noqa: W293

from __future__ import annotations

import pytest

from monitors.contracts.forge import ChangeEvidence, FileStat
from monitors.drift.checks import run_checks
from monitors.drift.diff_names import definition, is_skip_marker, is_test_path
from monitors.drift.evidence import build_evidence


def evidence(path: str, patch: str, add: int = 1, delete: int = 1) -> ChangeEvidence:
    return build_evidence(["Work"], [FileStat(path, "modified", add, delete)], [("", patch)], head_sha="abc")


def fired(ev: ChangeEvidence, objective: str = "Normalise user emails") -> list[str]:
    return [c.name for c in run_checks(objective, ev, files_known=True)]


RSPEC_REMOVED = """\
diff --git a/spec/models/user_spec.rb b/spec/models/user_spec.rb
index 3b18e51..a9c7f2e 100644
--- a/spec/models/user_spec.rb
+++ b/spec/models/user_spec.rb
@@ -12,17 +12,13 @@ RSpec.describe User, type: :model do
     it "is valid with a name and email" do
       expect(user).to be_valid
     end
-
-    it "is invalid without an email" do
-      user.email = nil
-      expect(user).not_to be_valid
-    end
   end
 
-  describe "#full_name" do
-    it 'joins first and last name' do
-      expect(user.full_name).to eq("Ada Lovelace")
-    end
-  end
+  it "normalises the email" do
+    expect(User.new(email: " ADA@X.ORG ").email).to eq("ada@x.org")
+  end
 end
"""

MINITEST_REMOVED = """\
diff --git a/test/models/order_test.rb b/test/models/order_test.rb
index 0c1d2e3..4f5a6b7 100644
--- a/test/models/order_test.rb
+++ b/test/models/order_test.rb
@@ -8,14 +8,6 @@ class OrderTest < ActiveSupport::TestCase
     assert orders(:paid).valid?
   end
 
-  test "an order without lines is invalid" do
-    assert_not Order.new(lines: []).valid?
-  end
-
-  def test_total_includes_tax
-    assert_equal 119, orders(:paid).total
-  end
-
   def test_paid_orders_are_frozen
     assert orders(:paid).frozen?
   end
"""

RSPEC_SKIPS_ON_EXISTING = """\
diff --git a/spec/services/checkout_spec.rb b/spec/services/checkout_spec.rb
index 1a2b3c4..5d6e7f8 100644
--- a/spec/services/checkout_spec.rb
+++ b/spec/services/checkout_spec.rb
@@ -20,9 +20,11 @@ RSpec.describe Checkout do
   describe "#call" do
     it "charges the card" do
+      skip "gateway sandbox is down"
       expect(gateway).to receive(:charge)
       described_class.new(cart).call
     end
 
     it "sends a receipt" do
+      pending("mailer rewrite")
       expect { described_class.new(cart).call }.to change { deliveries.count }.by(1)
     end
"""

MINITEST_SKIP_IN_EXISTING = """\
diff --git a/test/models/order_test.rb b/test/models/order_test.rb
index 0c1d2e3..4f5a6b7 100644
--- a/test/models/order_test.rb
+++ b/test/models/order_test.rb
@@ -16,6 +16,7 @@ class OrderTest < ActiveSupport::TestCase
   end
 
   def test_paid_orders_are_frozen
+    skip if ENV["CI"]
     assert orders(:paid).frozen?
   end
"""

RSPEC_NEW_PENDING_TEST = """\
diff --git a/spec/models/user_spec.rb b/spec/models/user_spec.rb
index 3b18e51..a9c7f2e 100644
--- a/spec/models/user_spec.rb
+++ b/spec/models/user_spec.rb
@@ -30,4 +30,8 @@ RSpec.describe User, type: :model do
     end
   end
+
+  xit "normalises unicode emails" do
+    expect(User.new(email: "ÄDA@x.org").email).to eq("äda@x.org")
+  end
 end
"""

JS_REMOVED = """\
diff --git a/web/src/__tests__/cart.test.js b/web/src/__tests__/cart.test.js
index 9a8b7c6..5d4e3f2 100644
--- a/web/src/__tests__/cart.test.js
+++ b/web/src/__tests__/cart.test.js
@@ -14,16 +14,6 @@ describe("Cart", () => {
     expect(cart.total()).toBe(0);
   });
 
-  it("sums the line prices", () => {
-    cart.add({ price: 2 }).add({ price: 3 });
-    expect(cart.total()).toBe(5);
-  });
-
-  test(`applies the discount code`, () => {
-    cart.apply("TEN");
-    expect(cart.total()).toBe(0);
-  });
-
   it("rejects negative quantities", () => {
     expect(() => cart.add({ price: 1, qty: -1 })).toThrow();
   });
"""

JS_SKIPS_ON_EXISTING = """\
diff --git a/web/src/checkout.spec.ts b/web/src/checkout.spec.ts
index 1f2e3d4..6c7b8a9 100644
--- a/web/src/checkout.spec.ts
+++ b/web/src/checkout.spec.ts
@@ -3,7 +3,7 @@ import { checkout } from "./checkout";
-describe("checkout", () => {
+describe.skip("checkout", () => {
   beforeEach(() => resetGateway());
 
   it("charges the card", async () => {
@@ -22,7 +22,7 @@ describe("checkout", () => {
     await expect(checkout(cart)).rejects.toThrow("declined");
   });
 
-  test("retries a timeout once", async () => {
+  test.skip("retries a timeout once", async () => {
     gateway.timeoutOnce();
     await checkout(cart);
   });
@@ -40,7 +40,7 @@ describe("checkout", () => {
     expect(receipts).toHaveLength(1);
   });
 
-  describe("refunds", () => {
+  xdescribe("refunds", () => {
     it("refunds in full", async () => {
"""

JS_ONLY_IS_NOT_A_SKIP = """\
diff --git a/web/src/checkout.spec.ts b/web/src/checkout.spec.ts
index 1f2e3d4..6c7b8a9 100644
--- a/web/src/checkout.spec.ts
+++ b/web/src/checkout.spec.ts
@@ -25,7 +25,7 @@ describe("checkout", () => {
     await expect(checkout(cart)).rejects.toThrow("declined");
   });
 
-  test("retries a timeout once", async () => {
+  test.only("retries a timeout once", async () => {
     gateway.timeoutOnce();
     await checkout(cart);
   });
"""


def test_rspec_examples_and_groups_removed_are_reported_by_name() -> None:
    ev = evidence("spec/models/user_spec.rb", RSPEC_REMOVED, 3, 10)
    path = "spec/models/user_spec.rb"
    assert ev.removed_tests == (
        f"{path}::it: is invalid without an email",
        f"{path}::describe: #full_name",
        f"{path}::it: joins first and last name",
    )
    assert "it: normalises the email" in ev.added_names
    assert fired(ev) == ["tests_removed"]


def test_minitest_tests_removed_are_reported_by_name() -> None:
    ev = evidence("test/models/order_test.rb", MINITEST_REMOVED, 0, 8)
    path = "test/models/order_test.rb"
    assert ev.removed_tests == (f"{path}::test: an order without lines is invalid", f"{path}::test_total_includes_tax")
    assert fired(ev, "Speed up order totals") == ["tests_removed"]


def test_rspec_skip_and_pending_in_existing_examples_are_skip_markers() -> None:
    ev = evidence("spec/services/checkout_spec.rb", RSPEC_SKIPS_ON_EXISTING, 2, 0)
    assert ev.skips_added == (
        'spec/services/checkout_spec.rb: skip "gateway sandbox is down"',
        'spec/services/checkout_spec.rb: pending("mailer rewrite")',
    )
    assert ev.removed_tests == ()
    assert fired(ev, "Add Apple Pay to checkout") == ["tests_removed"]


def test_minitest_skip_in_an_existing_test_is_a_skip_marker() -> None:
    ev = evidence("test/models/order_test.rb", MINITEST_SKIP_IN_EXISTING, 1, 0)
    assert ev.skips_added == ('test/models/order_test.rb: skip if ENV["CI"]',)


def test_a_new_example_written_disabled_is_no_skip_marker() -> None:
    # A brand-new `xit` disables nothing that ran before: a choice, not a loss.
    ev = evidence("spec/models/user_spec.rb", RSPEC_NEW_PENDING_TEST, 4, 0)
    assert (ev.removed_tests, ev.skips_added) == ((), ())
    assert fired(ev) == []


def test_js_tests_removed_are_reported_by_name() -> None:
    path = "web/src/__tests__/cart.test.js"
    ev = evidence(path, JS_REMOVED, 0, 10)
    assert ev.removed_tests == (f"{path}::it: sums the line prices", f"{path}::test: applies the discount code")
    assert fired(ev, "Show the cart total in the header") == ["tests_removed"]


def test_js_describe_skip_test_skip_and_xdescribe_on_existing_tests_are_skips() -> None:
    path = "web/src/checkout.spec.ts"
    ev = evidence(path, JS_SKIPS_ON_EXISTING, 3, 3)
    assert ev.removed_tests == ()
    assert ev.skips_added == (
        f'{path}: describe.skip("checkout", () => {{',
        f'{path}: test.skip("retries a timeout once", async () => {{',
        f'{path}: xdescribe("refunds", () => {{',
    )
    assert fired(ev, "Add Apple Pay to checkout") == ["tests_removed"]


def test_js_it_only_focuses_a_test_and_skips_nothing() -> None:
    ev = evidence("web/src/checkout.spec.ts", JS_ONLY_IS_NOT_A_SKIP)
    assert (ev.removed_tests, ev.skips_added) == ((), ())


@pytest.mark.parametrize(
    ("code", "path", "name"),
    [
        ('  it "is valid" do', "spec/models/user_spec.rb", "it: is valid"),
        ("  xit 'is valid' do", "spec/models/user_spec.rb", "it: is valid"),
        (
            'RSpec.describe "Checkout flow", type: :feature do',
            "spec/features/checkout_spec.rb",
            "describe: Checkout flow",
        ),
        ("RSpec.describe User, type: :model do", "spec/models/user_spec.rb", "describe: User"),
        ('  context("when paid") do', "spec/models/order_spec.rb", "context: when paid"),
        ('  test "totals add up" do', "test/models/order_test.rb", "test: totals add up"),
        # Outside Ruby files the same words are not test blocks.
        ('  it "is valid" do', "docs/testing.md", None),
        # Ruby statements that start with the same words.
        ('  test = "abc"', "test/models/order_test.rb", None),
        ("  it.each { |x| p x }", "spec/models/user_spec.rb", None),
    ],
)
def test_ruby_test_blocks(code: str, path: str, name: str | None) -> None:
    assert definition(code, path) == name


@pytest.mark.parametrize(
    ("code", "path", "skip"),
    [
        ('    skip "flaky"', "spec/a_spec.rb", True),
        ("    skip", "test/a_test.rb", True),
        ('    pending "rewrite"', "spec/a_spec.rb", True),
        ('  it "charges", skip: "sandbox down" do', "spec/a_spec.rb", True),
        ('  xcontext "when paid" do', "spec/a_spec.rb", True),
        ("    skip_reason = compute", "spec/a_spec.rb", False),
        ("    skip = true", "spec/a_spec.rb", False),
        ("    pending.each(&:run)", "spec/a_spec.rb", False),
        ('    skip "flaky"', "web/src/a.spec.ts", False),  # Ruby's bare `skip` is read in Ruby files only
        ("  it.skip('x', () => {", "web/src/a.spec.ts", True),
        ("  xit('x', () => {", "web/src/a.spec.ts", True),
        ("  it.only('x', () => {", "web/src/a.spec.ts", False),
        ("  fit('x', () => {", "web/src/a.spec.ts", False),
    ],
)
def test_skip_markers_of_ruby_and_js(code: str, path: str, skip: bool) -> None:
    assert is_skip_marker(code, path) is skip


@pytest.mark.parametrize(
    "path", ["spec/models/user_spec.rb", "test/models/order_test.rb", "engines/billing/order_test.rb"]
)
def test_ruby_test_paths(path: str) -> None:
    assert is_test_path(path)
