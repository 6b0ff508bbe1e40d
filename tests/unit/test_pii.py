"""PII masking on Chinese and English messages."""

from __future__ import annotations

import pytest

from emotiondesk.text.pii import find_pii, is_valid_cn_id, luhn_ok, mask_pii, mask_pii_detailed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # phones: mainland mobiles (with and without +86, separators), landlines
        ("我的手机是13812345678，快点联系我", "我的手机是[PHONE]，快点联系我"),
        ("电话 +86 139 1234 5678", "电话 [PHONE]"),
        ("打 138-1234-5678 或 010-62345678 都行", "打 [PHONE] 或 [PHONE] 都行"),
        # international and North-American numbers
        ("call me on +44 20 7946 0958 please", "call me on [PHONE] please"),
        ("My number is (415) 555-0123.", "My number is [PHONE]."),
        ("reach me at 415-555-0199", "reach me at [PHONE]"),
        # e-mail
        ("邮箱 li.wei@example.com 收一下", "邮箱 [EMAIL] 收一下"),
        ("write to john.doe+shop@mail.example.co.uk", "write to [EMAIL]"),
        # resident ID (valid checksum) and bank cards (Luhn)
        ("身份证号11010519491231002X", "身份证号[ID]"),
        ("卡号 6222 0212 3456 7891 刷不了", "卡号 6222 0212 3456 7891 刷不了"),
        ("my card 4111 1111 1111 1111 was charged twice", "my card [CARD] was charged twice"),
        ("卡号4111111111111111被扣了两次", "卡号[CARD]被扣了两次"),
        # addresses
        ("请寄到北京市朝阳区建国路88号SOHO现代城5号楼1203室，谢谢", "请寄到[ADDRESS]，谢谢"),
        ("地址是上海市浦东新区张江路123弄4号", "地址是[ADDRESS]"),
        (
            "Ship it to 221B Baker Street, Apt 4, London please",
            "Ship it to [ADDRESS], London please",
        ),
        ("1600 Pennsylvania Avenue, Washington, DC 20500 is home", "[ADDRESS] is home"),
        # messaging accounts after a cue
        ("加我微信号：lw_2024shop 详聊", "加我微信号：[ACCOUNT] 详聊"),
        ("QQ 12345678 联系", "QQ [ACCOUNT] 联系"),
        ("my WeChat ID is janeroe88", "my WeChat ID is [ACCOUNT]"),
        ("WeChat ID: janeroe88", "WeChat ID: [ACCOUNT]"),
        # names after an explicit cue
        ("我叫李雷，手机13912345678", "我叫[NAME]，手机[PHONE]"),
        ("收件人：王小明，电话打不通", "收件人：[NAME]，电话打不通"),
        ("Hi, my name is John Smith and I am upset", "Hi, my name is [NAME] and I am upset"),
    ],
)
def test_masks(text: str, expected: str) -> None:
    assert mask_pii(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "订单号：123456789012345678 还没发货",  # 18 digits, kept: an order number
        "订单号 4111111111111111 退款了吗",  # Luhn-valid but an order number
        "快递单号 SF1234567890123 查不到",
        "Order #4012888888881881 never arrived",
        "Tracking number 1Z999AA10123456784, where is it?",
        "I paid 1299 yuan on 2024-03-15 and rated it 5 stars",
        "价格是199元，买了3件，物流太慢了",
        "这条路真难走，3号线地铁",
        "Invoice 2024031512345 is wrong",
        "This is terrible, I want a refund",
    ],
)
def test_keeps_order_numbers_and_ordinary_text(text: str) -> None:
    assert mask_pii(text) == text


def test_invalid_id_checksum_is_not_an_id() -> None:
    assert is_valid_cn_id("11010519491231002X")
    assert not is_valid_cn_id("110105194912310021")  # wrong check digit
    assert not is_valid_cn_id("110105194913310026")  # month 13
    assert "[ID]" not in mask_pii("编号110105194912310021")


def test_luhn() -> None:
    assert luhn_ok("4111111111111111")
    assert luhn_ok("79927398713")
    assert not luhn_ok("4111111111111112")
    assert mask_pii("card 4111 1111 1111 1112 rejected") == "card 4111 1111 1111 1112 rejected"


def test_detailed_reports_kinds_not_values() -> None:
    res = mask_pii_detailed("手机13812345678 邮箱 a@b.cn 卡号4111111111111111")
    assert res.counts == {"phone": 1, "email": 1, "bank_card": 1}
    assert "13812345678" not in res.text
    assert [s.kind for s in find_pii("a@b.cn 13812345678")] == ["email", "phone"]


def test_empty_and_no_pii() -> None:
    assert mask_pii("") == ""
    assert mask_pii_detailed("没什么").spans == ()


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_words = st.sampled_from(
    ["物流太慢了", "谢谢", "质量很好", "where is my stuff", "refund please", "，", " ", "!", "我"]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_words, max_size=6), st.integers(3, 9), st.integers(0, 10**8 - 1))
def test_any_mobile_number_in_any_context_is_masked(
    words: list[str], second: int, rest: int
) -> None:
    number = f"1{second}{rest % 10:d}{rest:08d}"[:11]
    text = "".join(words[:3]) + number + "".join(words[3:])
    masked = mask_pii(text)
    assert number not in masked and "[PHONE]" in masked


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_masking_is_idempotent_and_total(text: str) -> None:
    once = mask_pii(text)
    assert mask_pii(once) == once


# -- issue 17: PII that slipped through, and look-alikes that were wrongly masked ---------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a cue protects only the token right after it
        ("order 12345 my card is 4111 1111 1111 1111", "order 12345 my card is [CARD]"),
        ("case 7 my number 13812345678", "case 7 my number [PHONE]"),
        ("ticket 42 id 11010519491231002X", "ticket 42 id [ID]"),
        ("订单 778899 13812345678 联系我", "订单 778899 [PHONE] 联系我"),
        ("包裹 13812345678 到了吗", "包裹 [PHONE] 到了吗"),
        # full-width digits, as Chinese input methods type them
        ("手机１３８１２３４５６７８", "手机[PHONE]"),
        ("身份证１１０１０５１９４９１２３１００２Ｘ", "身份证[ID]"),
        ("卡号６２２２０２１２３４５６７８９０１２８", "卡号[CARD]"),
        # other shapes
        ("身份证 110105 19491231 002X", "身份证 [ID]"),
        ("电话138.1234.5678", "电话[PHONE]"),
        ("电话1\u200b38\u200b1234\u200b5678好吗", "电话[PHONE]好吗"),
        ("邮箱李伟@例子.中国", "邮箱[EMAIL]"),
        ("送到北京市海淀区博云路二号", "送到[ADDRESS]"),
        # phones with a country prefix are phones, not cards
        ("+8613812345678", "[PHONE]"),
        ("0086-138-1234-5678", "[PHONE]"),
    ],
)
def test_issue_17_masks(text: str, expected: str) -> None:
    assert mask_pii(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "订单编号：SO-13812345678",
        "my order number is 13812345678",
        "order #13812345678 is late",
        "运单号 13812345678 查不到",
    ],
)
def test_issue_17_order_numbers_after_a_number_cue_are_kept(text: str) -> None:
    assert mask_pii(text) == text


def test_spans_point_into_the_original_text() -> None:
    text = "手机１３８\u200b１２３４５６７８，谢谢"
    (span,) = find_pii(text)
    assert text[span.start : span.end] == "１３８\u200b１２３４５６７８"
    assert mask_pii(text) == "手机[PHONE]，谢谢"


def test_mask_json_masks_every_string_at_any_depth() -> None:
    from emotiondesk.text.pii import mask_json

    value = {"phone": "13812345678", "n": [1, {"mail": "a.b@example.com"}], "ok": True}
    assert mask_json(value) == {"phone": "[PHONE]", "n": [1, {"mail": "[EMAIL]"}], "ok": True}
