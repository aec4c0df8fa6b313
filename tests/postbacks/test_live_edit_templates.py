"""Templates compared by position (postbacks/macros.py): a param renamed together with the
templates that use it changes nothing that is sent, and a live template follows a rename."""

import pytest

from postbacks.macros import render_url, template_by_position, template_params_renamed

TEMPLATE = "https://t.example/pb?c={clickId}&a={affid}&third={p3}&tx={transaction_id}"
OLD = ["affid", "TransID", "clickId"]


def test_a_renamed_param_gives_the_same_positional_form():
    renamed = TEMPLATE.replace("{clickId}", "{cid}")
    assert template_by_position(TEMPLATE, OLD) == template_by_position(
        renamed, ["affid", "TransID", "cid"]
    )
    assert template_by_position(TEMPLATE, OLD) != template_by_position(
        TEMPLATE.replace("{clickId}", "{TransID}"), OLD
    )


@pytest.mark.parametrize(
    ("new_params", "expected"),
    [
        (["affid", "TransID", "cid"], TEMPLATE.replace("{clickId}", "{cid}")),
        # A new name that means a network macro is reachable by its position only.
        (["affid", "TransID", "status"], TEMPLATE.replace("{clickId}", "{p3}")),
        (["affid", "TransID"], None),
    ],
)
def test_a_live_template_is_rewritten_for_renamed_params(new_params, expected):
    assert template_params_renamed(TEMPLATE, old_params=OLD, new_params=new_params) == expected


def test_the_rewritten_template_sends_the_same_url_for_the_same_tracker():
    values = {"transaction_id": "tx-1", "p1": "aff9", "p2": "tx77", "p3": "c0ffee"}
    new_params = ["affid", "TransID", "cid"]
    rewritten = template_params_renamed(TEMPLATE, old_params=OLD, new_params=new_params)
    assert rewritten is not None
    before = render_url(TEMPLATE, {**values, "affid": "aff9", "clickId": "c0ffee"})
    after = render_url(rewritten, {**values, "affid": "aff9", "cid": "c0ffee"})
    assert before == after
