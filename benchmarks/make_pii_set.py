"""Build the PII test set (``benchmarks/data/pii_set.jsonl``): zh/en strings with spans marked.

Each line is ``{"text": ..., "spans": [{"kind": ..., "start": ..., "end": ...}], "group": ...}``.
Rows come from three sources:

* ``issue``: the cases of the privacy review (issue 17), verbatim;
* ``template``: customer-service sentences (zh and en) with generated values
  written the ways people write them: plain, grouped by spaces / dashes /
  dots, full-width digits, zero-width characters inside, with +86 / 0086;
  IDs carry a valid checksum, cards a valid Luhn digit;
* ``lookalike``: strings that must stay as they are (order, tracking and
  invoice numbers, prices, dates, times, quantities, product codes), so no
  spans, for precision.

The set is generated (seeded) so it can be rebuilt and extended:

    python benchmarks/make_pii_set.py [--seed 17] [--out benchmarks/data/pii_set.jsonl]
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import date, timedelta
from pathlib import Path

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
REGIONS = ("110105", "310115", "440305", "330106", "510107", "420111", "320102", "370202")
FULL = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
ZW = "\u200b"


def cn_id(rng: random.Random) -> str:
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 55))
    body = f"{rng.choice(REGIONS)}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return body + ID_CHECK[sum(int(c) * w for c, w in zip(body, ID_WEIGHTS, strict=True)) % 11]


def luhn_complete(prefix: str) -> str:
    for d in "0123456789":
        n = prefix + d
        total = 0
        for i, c in enumerate(reversed(n)):
            v = int(c) * (2 if i % 2 else 1)
            total += v - 9 if v > 9 else v
        if total % 10 == 0:
            return n
    raise AssertionError


def card(rng: random.Random) -> str:
    prefix, length = rng.choice(
        [
            ("6222", 19),
            ("6228", 19),
            ("6217", 19),
            ("4", 16),
            ("51", 16),
            ("62", 16),
            ("37", 15),
            ("6225", 16),
        ]
    )
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    return luhn_complete(body)


def mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10)}{rng.randrange(10**8):08d}"


def style_phone(rng: random.Random, p: str) -> str:
    s = rng.choice(["plain", "dash", "space", "dot", "full", "zw", "+86", "+86 ", "0086-", "plain"])
    if s == "dash":
        return f"{p[:3]}-{p[3:7]}-{p[7:]}"
    if s == "space":
        return f"{p[:3]} {p[3:7]} {p[7:]}"
    if s == "dot":
        return f"{p[:3]}.{p[3:7]}.{p[7:]}"
    if s == "full":
        return p.translate(FULL)
    if s == "zw":
        return ZW.join([p[:3], p[3:7], p[7:]])
    if s == "+86":
        return "+86" + p
    if s == "+86 ":
        return f"+86 {p[:3]} {p[3:7]} {p[7:]}"
    if s == "0086-":
        return f"0086-{p[:3]}-{p[3:7]}-{p[7:]}"
    return p


def style_id(rng: random.Random, n: str) -> str:
    s = rng.choice(["plain", "plain", "full", "grouped", "lower", "zw"])
    if s == "full":
        return n.translate(FULL)
    if s == "grouped":
        return f"{n[:6]} {n[6:14]} {n[14:]}"
    if s == "lower":
        return n.lower()
    if s == "zw":
        return n[:6] + ZW + n[6:14] + ZW + n[14:]
    return n


def style_card(rng: random.Random, n: str) -> str:
    s = rng.choice(["plain", "space4", "dash4", "full", "plain"])
    if s in ("space4", "dash4"):
        sep = " " if s == "space4" else "-"
        return sep.join(n[i : i + 4] for i in range(0, len(n), 4))
    if s == "full":
        return n.translate(FULL)
    return n


LANDLINES = ["010-62345678", "021-5888 1234", "(0755)86013388", "0571-87654321", "020-38861234"]
EN_PHONES = [
    "+44 20 7946 0958",
    "(415) 555-0123",
    "415-555-0199",
    "+1 212 555 0147",
    "+61 2 9374 4000",
    "+49 30 901820",
    "212.555.0173",
    "+33 1 42 68 53 00",
]
EMAIL_USERS = [
    "li.wei",
    "zhangsan88",
    "amy_chen",
    "john.doe+shop",
    "wang-fang",
    "k.lee",
    "mary1990",
    "support.buyer",
    "xiao_ming_2024",
    "j.smith",
]
EMAIL_DOMAINS = [
    "example.com",
    "qq.com",
    "163.com",
    "mail.example.co.uk",
    "gmail.com",
    "company.cn",
    "126.com",
    "outlook.com",
    "sina.com.cn",
    "shop.example.org",
]
IDN_EMAILS = [
    "李伟@例子.中国",
    "王芳@公司.中国",
    "客服@商城.公司",
    "zhang@例子.中国",
    "小明@邮件.网络",
]

ZH = {
    "phone": [
        "我的手机是{}，快点联系我",
        "电话{}，打不通就发短信",
        "联系方式：{}",
        "请拨打{}找我",
        "手机号码 {} 收不到验证码",
        "我的新号码是{}，麻烦改一下",
        "有问题打{}",
        "快递员说打{}没人接",
        "{}是我的电话",
        "麻烦回电{}谢谢",
        "包裹 {} 到了吗",
        "订单 778899 {} 联系我",
    ],
    "email": [
        "邮箱 {} 收一下",
        "发票发到{}",
        "我的邮箱是{}",
        "请把电子发票发送到 {}，谢谢",
        "{}这个邮箱收不到邮件",
    ],
    "id_number": [
        "身份证号{}",
        "我的身份证是{}，实名认证失败",
        "身份证 {} 核验不过",
        "证件号码：{}",
        "报关需要身份证{}吗",
        "本人身份证号码{}，请核实",
    ],
    "bank_card": [
        "卡号{}刷不了",
        "退款请打到这张卡{}",
        "银行卡 {} 被扣了两次",
        "我用的卡是{}，怎么没到账",
        "请退回到{}这张招商银行卡",
        "信用卡{}被重复扣款",
    ],
}
EN = {
    "phone": [
        "call me on {} please",
        "My number is {}.",
        "reach me at {}",
        "phone: {}",
        "You can text {} any time",
        "case 7 my number {}",
        "my cell {} is the best way",
    ],
    "email": [
        "write to {}",
        "my email is {}, send the invoice there",
        "Email: {}",
        "please reply to {} instead",
        "{} never got the receipt",
    ],
    "id_number": ["ticket 42 id {}", "my ID number is {}", "the customs form asks for {}"],
    "bank_card": [
        "my card {} was charged twice",
        "refund to card {} please",
        "order 12345 my card is {}",
        "Card number: {}, expiry 09/27",
        "charged {} twice",
    ],
}

LOOKALIKES = [
    "订单号：123456789012345678 还没发货",
    "订单号 4111111111111111 退款了吗",
    "快递单号 SF1234567890123 查不到",
    "Order #4012888888881881 never arrived",
    "Tracking number 1Z999AA10123456784, where is it?",
    "I paid 1299 yuan on 2024-03-15 and rated it 5 stars",
    "价格是199元，买了3件，物流太慢了",
    "这条路真难走，3号线地铁",
    "Invoice 2024031512345 is wrong",
    "This is terrible, I want a refund",
    "订单编号：SO-13812345678",
    "my order number is 13812345678",
    "运单号 13812345678 查不到",
    "order #13812345678 is late",
    "订单号是 202403151234567 请查一下",
    "物流单号YT8843219876543",
    "中通快递 75412398765432 三天没动",
    "京东订单 265409871234 什么时候到",
    "order no. 1140982376 arrived broken",
    "waybill 9876543210123 shows delivered",
    "RMA 20240315001 was approved",
    "reference 4485 2301 9988",
    "2024年3月15日下单，3月20日才到",
    "14:30 之前能发货吗",
    "买了2件，共计¥1,299.00",
    "总价 3,599 元，优惠 200",
    "It cost $1,249.99 and shipped 2024/03/18",
    "Delivered on 03/18/2024 at 10:42",
    "size 42, model AB-1234-XL",
    "SKU 8801234567890 out of stock",
    "条形码 6901234567892 扫不出来",
    "型号 iPhone 15 Pro Max 256GB",
    "温度 36.5 度，重量 1.25 kg",
    "我买了 3 台，订单 20240315 号",
    "第 1380 次催单了",
    "券码 8888-6666-1234 无效",
    "售后单号 AS20240315000123",
    "退款单号 RF202403150001 还没到账",
    "物流号 JT5012345678901",
    "快递号 773012345678901",
    "工单号 INC-20240315-0042",
    "ticket #20240315-17 still open",
    "case number 00123456 escalated",
    "parcel no. 4012888888881881 is stuck",
    "The box weighs 13.8 kg, 12345678 grams? no",
    "Version 13.8.12345.678",
    "我在3号楼2单元等快递",
    "1.5 倍运费太贵了",
    "评分 4.8 分，销量 13812 件",
    "2023-12-31 到 2024-01-01 的账单",
    "价格从 138 元涨到 158 元",
    "ISBN 978-7-111-12345-6",
    "容量 128GB 内存 16GB",
    "分期 12 期，每期 108.25 元",
]


def place(template: str, value: str) -> tuple[str, int, int]:
    i = template.index("{}")
    return template[:i] + value + template[i + 2 :], i, i + len(value)


def build(seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows: list[dict] = []

    def add(text: str, spans: list[tuple[str, int, int]], group: str) -> None:
        rows.append(
            {
                "text": text,
                "group": group,
                "spans": [{"kind": k, "start": s, "end": e} for k, s, e in spans],
            }
        )

    # the review's cases (issue 17), with their spans
    issue = [
        ("order 12345 my card is 4111 1111 1111 1111", "bank_card", "4111 1111 1111 1111"),
        ("case 7 my number 13812345678", "phone", "13812345678"),
        ("ticket 42 id 11010519491231002X", "id_number", "11010519491231002X"),
        ("订单 778899 13812345678 联系我", "phone", "13812345678"),
        ("包裹 13812345678 到了吗", "phone", "13812345678"),
        ("手机１３８１２３４５６７８", "phone", "１３８１２３４５６７８"),
        (
            "身份证１１０１０５１９４９１２３１００２Ｘ",
            "id_number",
            "１１０１０５１９４９１２３１００２Ｘ",
        ),
        (
            "卡号６２２２０２１２３４５６７８９０１２８",
            "bank_card",
            "６２２２０２１２３４５６７８９０１２８",
        ),
        ("身份证 110105 19491231 002X", "id_number", "110105 19491231 002X"),
        ("电话 138.1234.5678", "phone", "138.1234.5678"),
        (f"电话 138{ZW}1234{ZW}5678 谢谢", "phone", f"138{ZW}1234{ZW}5678"),
        ("邮箱 李伟@例子.中国", "email", "李伟@例子.中国"),
        ("+8613812345678", "phone", "+8613812345678"),
        ("0086-138-1234-5678", "phone", "0086-138-1234-5678"),
    ]
    for text, kind, value in issue:
        s = text.index(value)
        add(text, [(kind, s, s + len(value))], "issue")

    values = {
        "phone": lambda: style_phone(rng, mobile(rng)),
        "id_number": lambda: style_id(rng, cn_id(rng)),
        "bank_card": lambda: style_card(rng, card(rng)),
    }
    for lang, table in (("zh", ZH), ("en", EN)):
        for kind, templates in table.items():
            for n in range(30 if lang == "zh" else 20):
                template = templates[n % len(templates)]
                if kind == "email":
                    if lang == "zh" and n % 5 == 4:
                        value = rng.choice(IDN_EMAILS)
                    else:
                        value = f"{rng.choice(EMAIL_USERS)}@{rng.choice(EMAIL_DOMAINS)}"
                elif kind == "phone" and n % 6 == 5:
                    value = rng.choice(LANDLINES if lang == "zh" else EN_PHONES)
                else:
                    value = values[kind]()
                text, s, e = place(template, value)
                add(text, [(kind, s, e)], f"template-{lang}")
    # two kinds in one message
    for n in range(30):
        p = style_phone(rng, mobile(rng))
        m = f"{rng.choice(EMAIL_USERS)}@{rng.choice(EMAIL_DOMAINS)}"
        i = style_id(rng, cn_id(rng))
        if n % 2:
            a, b, c = "手机", "，邮箱 ", "，身份证"
        else:
            a, b, c = "phone ", ", email ", ", ID "
        text = a + p + b + m + c + i
        s1 = len(a)
        s2 = s1 + len(p) + len(b)
        s3 = s2 + len(m) + len(c)
        add(
            text,
            [
                ("phone", s1, s1 + len(p)),
                ("email", s2, s2 + len(m)),
                ("id_number", s3, s3 + len(i)),
            ],
            "mixed",
        )
    for text in LOOKALIKES:
        add(text, [], "lookalike")
    # generated look-alikes: order numbers after a number cue, dates, prices
    cues = [
        "订单号",
        "订单号：",
        "运单号 ",
        "快递单号",
        "order number ",
        "Order #",
        "tracking number ",
        "order no. ",
    ]
    for n in range(40):
        code = rng.choice(
            [
                mobile(rng),
                card(rng),
                f"{rng.randrange(10**11, 10**12)}",
                f"SF{rng.randrange(10**12, 10**13)}",
                f"{rng.randrange(10**17, 10**18)}",
            ]
        )
        add(f"{cues[n % len(cues)]}{code} 还没到", [], "lookalike")
    for _ in range(20):
        d = date(2020, 1, 1) + timedelta(days=rng.randrange(2000))
        price = rng.randrange(10, 99999) / 100
        text = rng.choice(
            [
                f"{d:%Y-%m-%d} 下单，付了 {price:.2f} 元",
                f"ordered on {d:%Y/%m/%d}, paid ${price:,.2f}",
                f"{d:%Y%m%d}{rng.randrange(10**6):06d} 是流水号",
                f"{d:%Y年%m月%d日}买的，{rng.randrange(1, 9)} 件共 {price:.1f} 元",
            ]
        )
        add(text, [], "lookalike")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "data" / "pii_set.jsonl")
    args = ap.parse_args()
    rows = build(args.seed)
    with args.out.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} rows -> {args.out}")


if __name__ == "__main__":
    main()
