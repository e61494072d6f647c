"""Redaction: what a caller says about cards, phones and e-mail never reaches storage or logs."""

import pytest
from loguru import logger

from voice_agent.redaction import (
    CARD,
    EMAIL,
    NUMBER,
    PHONE,
    luhn_ok,
    mask_phone,
    redact,
    redact_log_record,
)

# (sentence as Whisper writes it, what must be gone, what must stay)
CASES = {
    "en": [
        ("My card number is 4539 1488 0343 6467, expiry twelve twenty seven.",
         ["4539", "6467"], [CARD, "expiry twelve twenty seven"]),
        ("You can reach me at (415) 555-2671 or +1 415 555 2671 about order 1001.",
         ["555", "2671"], ["order 1001", PHONE]),
        ("It's four five three nine, one four eight eight, zero three four three, six four six "
         "seven.", ["four five three nine", "six four six seven"], [CARD]),
        ("My email is john dot smith at gmail dot com and the order is one zero zero one.",
         ["john", "gmail"], [EMAIL, "one zero zero one"]),
        ("Send it to jane.doe+orders@example.co.uk please", ["jane", "example"], [EMAIL]),
    ],
    "es": [
        ("Mi tarjeta es 5555-5555-5555-4444 y mi móvil es el +34 612 34 56 78, pedido 1001.",
         ["5555", "612 34"], [CARD, PHONE, "pedido 1001"]),
        ("Llámeme al seis uno dos, tres cuatro cinco, seis siete ocho.",
         ["seis uno dos", "seis siete ocho"], ["Llámeme al " + PHONE]),
        ("mi correo es lucia punto garcia arroba hotmail punto es", ["lucia", "hotmail"],
         [EMAIL]),
    ],
    "fr": [
        ("Mon numéro est le 06 12 34 56 78 et ma commande la 1002.", ["06 12"],
         [PHONE, "commande la 1002"]),
        ("C'est zéro six, douze, trente-quatre, cinquante-six, soixante-dix-huit.",
         ["douze", "soixante"], [PHONE]),
        ("Ma carte : 4111 1111 1111 1111, et mon adresse marie.dupont@orange.fr",
         ["4111", "marie", "orange"], [CARD, EMAIL]),
    ],
    "de": [
        ("Meine Kreditkarte ist 3782 822463 10005 und die Bestellung 1003.",
         ["3782", "10005"], [CARD, "Bestellung 1003"]),
        ("Rufen Sie mich unter 030 12345678 oder 0171-2345678 an.", ["12345678", "2345678"],
         ["unter " + PHONE + " oder " + PHONE + " an"]),
        ("Meine Nummer ist null eins sieben eins, zwei drei vier fünf sechs sieben acht.",
         ["null eins", "sieben acht"], [PHONE]),
    ],
    "zh": [
        ("我的电话是13800138000，订单号是1001。", ["13800138000"], [PHONE, "1001"]),
        ("我的手机号是一三八零零一三八零零零，订单一千零二。", ["一三八零零一三八零零零"],
         [PHONE, "一千零二"]),
        ("卡号是6222 0212 3456 7890 128，邮箱是zhangwei@qq.com", ["6222", "zhangwei"],
         [CARD, EMAIL]),
        ("订单一零零二什么时候到？", [], ["一零零二"]),
    ],
}


@pytest.mark.parametrize(
    "lang,text,gone,kept",
    [(lang, *case) for lang, cases in CASES.items() for case in cases],
)
def test_personal_data_is_replaced_and_order_numbers_survive(lang, text, gone, kept):
    out = redact(text)
    for fragment in gone:
        assert fragment not in out, f"{lang}: {fragment!r} survived in {out!r}"
    for fragment in kept:
        assert fragment in out, f"{lang}: {fragment!r} missing from {out!r}"


@pytest.mark.parametrize("text", [
    "Where is my order 1001?",
    "¿Dónde está mi pedido mil dos?",
    "Ma commande 1002 est arrivée le 2026-11-30 à 10:30.",
    "Die Rückerstattung von 1 250 000 € ist zu hoch.",
    "The refund was $1,250,000.00 for order ten oh two.",
    "I want this one, not that one.",
    "Your order 1004 ships in 3 days and costs 29.99 euros.",
])
def test_ordinary_sentences_are_left_alone(text):
    assert redact(text) == text


def test_card_numbers_are_checked_with_luhn():
    assert luhn_ok("4539148803436467") and not luhn_ok("4539148803436468")
    assert redact("card 4539 1488 0343 6467") == f"card {CARD}"
    # not a card, but a long number is still never stored whole
    assert redact("card 4539 1488 0343 6468") == f"card {NUMBER}"


def test_caller_ids_can_be_masked():
    assert mask_phone("+15551230000") == "+1••••••0000"
    assert mask_phone("1001") == "1001"


def test_log_lines_are_redacted_by_the_patcher():
    lines: list[str] = []
    log = logger.patch(redact_log_record)
    sink = logger.add(lines.append, format="{message}", level="INFO")
    try:
        log.info("caller +44 20 7946 0958 said card 4111-1111-1111-1111, mail a.b@example.com")
    finally:
        logger.remove(sink)
    assert lines and "7946" not in lines[0] and "4111" not in lines[0]
    assert "example.com" not in lines[0]
    assert lines[0].strip() == f"caller {PHONE} said card {CARD}, mail {EMAIL}"


def test_empty_and_missing_text():
    assert redact("") == "" and redact(None) == ""
