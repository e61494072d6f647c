"""Slot types as call scripts: what a caller says (as Whisper writes it) → the value the agent
keeps, and the reason it tells the caller when the value will not do.

These are the DEV cases the parsers were tuned on; the held-out figures come from
models/slot_eval/*.yaml through `voice-agent bench slots` (docs/slots.md).
Every case runs at a fixed `now`: Monday 2026-12-07 09:00 unless said otherwise.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from voice_agent.nlu.numbers import extract_order_number
from voice_agent.nlu.slots import (
    SlotOptionError,
    UnknownSlotTypeError,
    check_slot,
    get_slot_type,
    no_match_reason,
    parse_slot,
    slot_type_names,
    validate_slot,
)

MONDAY = datetime(2026, 12, 7, 9, 0)  # calendar.weekday(2026, 12, 7) == 0
WEDNESDAY_AFTERNOON = datetime(2026, 12, 16, 16, 0)


def said(slot: str, text: str, lang: str, now: datetime = MONDAY, **options):
    value = parse_slot(slot, text, lang, now=now, options=options or None)
    return None if value is None else value.value


# ---------------------------------------------------------------- date / time / datetime

@pytest.mark.parametrize("lang, text, expected", [
    ("en", "next Tuesday at three", "2026-12-15T15:00"),
    ("en", "Tomorrow at 10:30.", "2026-12-08T10:30"),
    ("en", "Friday at 3:45 p.m.", "2026-12-11T15:45"),
    ("en", "Thursday at half past nine in the morning.", "2026-12-10T09:30"),
    ("en", "On the 21st at 2.", "2026-12-21T14:00"),
    ("en", "December 30th at noon.", "2026-12-30T12:00"),
    ("en", "The day after tomorrow at 11 am.", "2026-12-09T11:00"),
    ("en", "Tomorrow evening at 6.", "2026-12-08T18:00"),
    ("en", "Next Wednesday, quarter to four.", "2026-12-16T15:45"),
    ("en", "In two days at five.", "2026-12-09T17:00"),
    ("es", "el martes que viene a las tres", "2026-12-15T15:00"),
    ("es", "Mañana por la tarde a las cinco.", "2026-12-08T17:00"),
    ("es", "El jueves a las nueve y media de la mañana.", "2026-12-10T09:30"),
    ("es", "Pasado mañana a las once.", "2026-12-09T11:00"),
    ("es", "El 21 de diciembre a las dos.", "2026-12-21T14:00"),
    ("es", "El viernes a las cuatro menos cuarto.", "2026-12-11T15:45"),
    ("es", "El próximo lunes a las 10.", "2026-12-14T10:00"),
    ("es", "Mañana a las 18:30.", "2026-12-08T18:30"),
    ("fr", "mardi prochain à 15 h", "2026-12-15T15:00"),
    ("fr", "Demain à dix heures.", "2026-12-08T10:00"),
    ("fr", "Jeudi à neuf heures et quart.", "2026-12-10T09:15"),
    ("fr", "Après-demain à 11h.", "2026-12-09T11:00"),
    ("fr", "Le 21 décembre à quatorze heures.", "2026-12-21T14:00"),
    ("fr", "Vendredi à seize heures moins le quart.", "2026-12-11T15:45"),
    ("fr", "Demain soir à sept heures.", "2026-12-08T19:00"),
    ("fr", "Lundi prochain à midi.", "2026-12-14T12:00"),
    ("de", "nächsten Dienstag um drei", "2026-12-15T15:00"),
    ("de", "Morgen um halb vier.", "2026-12-08T15:30"),
    ("de", "Donnerstag um Viertel nach neun.", "2026-12-10T09:15"),
    ("de", "Übermorgen um elf Uhr.", "2026-12-09T11:00"),
    ("de", "Am 21. Dezember um 14 Uhr.", "2026-12-21T14:00"),
    ("de", "Freitag um Viertel vor vier.", "2026-12-11T15:45"),
    ("de", "Morgen Abend um sieben.", "2026-12-08T19:00"),
    ("de", "Kommenden Montag um zwölf.", "2026-12-14T12:00"),
    ("zh", "下周二下午三点", "2026-12-15T15:00"),
    ("zh", "明天上午十点半", "2026-12-08T10:30"),
    ("zh", "周四早上九点一刻。", "2026-12-10T09:15"),
    ("zh", "后天上午十一点。", "2026-12-09T11:00"),
    ("zh", "12月21号下午两点。", "2026-12-21T14:00"),
    ("zh", "星期五下午三点四十五。", "2026-12-11T15:45"),
    ("zh", "明晚七点。", "2026-12-08T19:00"),
    ("zh", "下星期一中午十二点。", "2026-12-14T12:00"),
])
def test_caller_books_a_day_and_time_on_monday_7_december(lang, text, expected):
    assert said("datetime", text, lang) == expected


@pytest.mark.parametrize("lang, text, expected", [
    ("en", "This Friday at 10.", "2026-12-18T10:00"),
    ("en", "Monday at 8.", "2026-12-21T08:00"),
    ("en", "Sunday at seven.", "2026-12-20T19:00"),
    ("es", "El domingo a las siete de la tarde.", "2026-12-20T19:00"),
    ("fr", "Samedi à 9 h 30.", "2026-12-19T09:30"),
    ("de", "Am Samstag um neun.", "2026-12-19T09:00"),
    ("zh", "这周五上午十点。", "2026-12-18T10:00"),
    ("zh", "下下周一上午九点。", "2026-12-28T09:00"),  # the week after next
    ("en", "Next Monday at 2.", "2026-12-21T14:00"),  # the Monday of next week
])
def test_caller_books_on_a_wednesday_afternoon(lang, text, expected):
    assert said("datetime", text, lang, now=WEDNESDAY_AFTERNOON) == expected


@pytest.mark.parametrize("lang, text, expected", [
    ("en", "The 3rd of January.", "2027-01-03"),
    ("es", "El día 3.", "2027-01-03"),  # the 3rd has passed this month
    ("fr", "Le 24.", "2026-12-24"),
    ("de", "Am 2. Januar.", "2027-01-02"),
    ("zh", "一月三号。", "2027-01-03"),
    ("en", "Tomorrow.", "2026-12-17"),
])
def test_caller_gives_only_a_day(lang, text, expected):
    assert said("date", text, lang, now=WEDNESDAY_AFTERNOON) == expected


@pytest.mark.parametrize("lang, text, expected", [
    ("en", "At three.", "15:00"), ("en", "At eight.", "08:00"), ("en", "7:30", "19:30"),
    ("es", "A la una y media.", "13:30"), ("fr", "À 9 h.", "09:00"),
    ("de", "Um halb zwölf.", "11:30"), ("zh", "两点半", "14:30"),
])
def test_an_hour_without_am_pm_is_read_inside_business_hours(lang, text, expected):
    assert said("time", text, lang) == expected


def test_the_business_hours_window_is_an_option():
    assert said("time", "at eight", "en", business_hours="09:00-18:00") == "08:00"
    assert said("time", "at eight", "en", business_hours="13:00-22:00") == "20:00"
    assert said("time", "at 8 in the morning", "en", business_hours="13:00-22:00") == "08:00"


def test_next_weekday_can_mean_the_upcoming_one():
    assert said("date", "next Tuesday", "en") == "2026-12-15"
    assert said("date", "next Tuesday", "en", next_weekday="upcoming") == "2026-12-08"


def test_a_datetime_with_half_missing_says_what_to_ask_for():
    value = parse_slot("datetime", "tomorrow", "en", now=MONDAY)
    assert value.value == "2026-12-08" and value.extra["missing"] == "time"
    assert validate_slot(value, "en", now=MONDAY) == "I need a time as well as the day"
    value = parse_slot("datetime", "a las cinco", "es", now=MONDAY)
    assert value.value == "17:00" and value.extra["missing"] == "date"


def test_dates_the_business_cannot_take_get_a_reason():
    past = parse_slot("date", "ayer", "es", now=MONDAY)
    assert past.value == "2026-12-06"
    assert validate_slot(past, "es", now=MONDAY) == "that date is in the past"
    sunday = parse_slot("date", "Sunday", "en", now=MONDAY)
    assert validate_slot(sunday, "en", now=MONDAY, options={"closed_weekdays": ["sunday"]}) \
        == "we are closed on Sundays"
    far = parse_slot("date", "the 30th", "en", now=MONDAY)
    assert validate_slot(far, "en", now=MONDAY, options={"max_days_ahead": 14}) \
        == "we can only book up to 14 days ahead"
    late = parse_slot("datetime", "tomorrow at 9 pm", "en", now=MONDAY)
    assert validate_slot(late, "en", now=MONDAY, options={"within_business_hours": True}) \
        == "we are open from 08:00 to 20:00"
    earlier = parse_slot("datetime", "today at 8", "en", now=MONDAY)
    assert validate_slot(earlier, "en", now=MONDAY) == "that time is in the past"


def test_nothing_like_a_date_is_none():
    assert said("date", "I'd like to talk to someone", "en") is None
    assert said("time", "mi pedido no ha llegado", "es") is None


# ---------------------------------------------------------------- numbers

@pytest.mark.parametrize("lang, text, options, expected", [
    ("en", "My account number is one two three four five six.", {"max_length": 10}, "123456"),
    ("en", "ten oh one", {}, "1001"),
    ("en", "It's 1,002.", {}, "1002"),
    ("es", "mil dos", {}, "1002"),
    ("es", "uno dos tres cuatro", {"min_length": 4, "max_length": 4}, "1234"),
    ("fr", "mille trois", {}, "1003"),
    ("de", "tausendeins", {}, "1001"),
    ("de", "Meine PIN ist vier drei zwei eins.", {}, "4321"),
    ("zh", "一零零一", {}, "1001"),
    ("zh", "密码是八八六六", {}, "8866"),
])
def test_caller_reads_out_digits(lang, text, options, expected):
    assert said("digits", text, lang, **options) == expected


def test_a_pin_of_the_wrong_length_gets_a_reason():
    value = parse_slot("digits", "one two three", "en", options={"min_length": 4, "max_length": 4})
    assert value.value == "123"
    assert validate_slot(value, "en", options={"min_length": 4, "max_length": 4}) \
        == "that number has 3 digits; it needs 4 digits"


def test_order_numbers_still_read_as_before():
    assert extract_order_number("where is my order one zero zero one", "en") == "1001"
    assert extract_order_number("Can I pay 29.99 by card?", "en") is None
    assert extract_order_number("我的订单一零零一在哪里", "zh") == "1001"


@pytest.mark.parametrize("lang, text, expected", [
    ("en", "twenty five", Decimal(25)), ("es", "veinticinco", Decimal(25)),
    ("fr", "quarante-deux", Decimal(42)), ("de", "zweiundvierzig", Decimal(42)),
    ("zh", "四十二", Decimal(42)), ("en", "2.5", Decimal("2.5")),
])
def test_caller_says_a_quantity(lang, text, expected):
    assert said("number", text, lang) == expected


def test_a_quantity_out_of_range_gets_a_reason():
    value = parse_slot("number", "twelve people", "en")
    assert validate_slot(value, "en", options={"max": 8}) == "that is more than 8"


@pytest.mark.parametrize("lang, text, options, expected", [
    ("en", "twenty-five fifty", {"currency": "USD"}, "25.50 USD"),
    ("en", "Twenty dollars.", {}, "20.00 USD"),
    ("en", "$9.99", {}, "9.99 USD"),
    ("en", "Thirty-nine ninety-nine.", {}, "39.99"),  # the full stop is not a decimal point
    ("es", "veinticinco euros con cincuenta", {}, "25.50 EUR"),
    ("es", "Son treinta euros.", {}, "30.00 EUR"),
    ("fr", "quarante-deux euros", {}, "42.00 EUR"),
    ("fr", "Sept euros cinquante.", {}, "7.50 EUR"),
    ("de", "zweiundvierzig Euro", {}, "42.00 EUR"),
    ("de", "3,50 Euro", {}, "3.50 EUR"),
    ("zh", "四十二块五", {}, "42.50 CNY"),
    ("zh", "三十块", {}, "30.00 CNY"),
])
def test_caller_says_an_amount(lang, text, options, expected):
    assert str(said("amount", text, lang, **options)) == expected


def test_an_amount_in_the_wrong_currency_gets_a_reason():
    value = parse_slot("amount", "twenty dollars", "en")
    assert validate_slot(value, "en", options={"currency": "EUR"}) \
        == "we can only take amounts in EUR"


# ---------------------------------------------------------------- yes / no

@pytest.mark.parametrize("lang, text, expected", [
    ("en", "Yeah sure.", True), ("en", "Yes please.", True), ("en", "No, thanks.", False),
    ("en", "Nope.", False), ("en", "That's right.", True), ("en", "I don't know.", None),
    ("en", "No problem.", True),
    ("es", "Claro.", True), ("es", "Sí, por favor.", True), ("es", "No, gracias.", False),
    ("es", "Vale.", True), ("es", "No sé.", None),
    ("fr", "D'accord.", True), ("fr", "Oui.", True), ("fr", "Non merci.", False),
    ("fr", "Pas du tout.", False),
    ("de", "Genau.", True), ("de", "Ja, gerne.", True), ("de", "Nein.", False),
    ("de", "Das stimmt nicht.", False),
    ("zh", "对", True), ("zh", "好的", True), ("zh", "不是", False), ("zh", "不用了", False),
    ("zh", "没问题", True),
])
def test_caller_answers_yes_or_no(lang, text, expected):
    assert said("yes_no", text, lang) == expected


# ---------------------------------------------------------------- email

@pytest.mark.parametrize("lang, text, expected", [
    ("en", "john dot smith at gmail dot com", "john.smith@gmail.com"),
    ("en", "You can reach me at anna underscore b at yahoo dot co dot uk.", "anna_b@yahoo.co.uk"),
    ("en", "It's bob@example.com.", "bob@example.com"),
    ("es", "juan punto perez arroba gmail punto com", "juan.perez@gmail.com"),
    ("fr", "jean point dupont arobase orange point fr", "jean.dupont@orange.fr"),
    ("de", "max punkt müller at web punkt de", "max.müller@web.de"),
    ("zh", "zhang点san艾特163点com", "zhang.san@163.com"),
])
def test_caller_spells_an_email_address(lang, text, expected):
    value = parse_slot("email", text, lang)
    assert value.value == expected
    assert validate_slot(value, lang) is None


def test_an_incomplete_email_gets_a_reason():
    value = parse_slot("email", "john at gmail dot", "en")
    assert value is None
    assert "spell" in no_match_reason("email", "en")
    value = parse_slot("email", "It's john@-gmail.com", "en")
    assert validate_slot(value, "en").startswith("that does not sound like a complete e-mail")
    value = parse_slot("email", "john at gmail dot com", "en")
    assert validate_slot(value, "en", options={"allowed_domains": ["acme.com"]}) \
        == "it has to be an address at acme.com"


# ---------------------------------------------------------------- phone

@pytest.mark.parametrize("lang, text, options, expected", [
    ("en", "plus one five five five two three four five six seven eight", {}, "+15552345678"),
    ("en", "Oh two oh, seven nine four six, double five double oh.", {"region": "GB"},
     "+442079465500"),
    ("en", "(212) 555-0199", {"region": "US"}, "+12125550199"),
    ("es", "seis, cero, cero, uno, dos, tres, cuatro, cinco, seis", {}, "+34600123456"),
    ("fr", "zéro six, douze, trente-quatre, cinquante-six, soixante-dix-huit", {},
     "+33612345678"),
    ("de", "null eins sieben zwei, eins zwei drei vier fünf sechs sieben", {}, "+491721234567"),
    ("zh", "一三九一二三四五六七八", {}, "+8613912345678"),
])
def test_caller_gives_a_phone_number(lang, text, options, expected):
    assert said("phone", text, lang, **options) == expected


def test_a_short_phone_number_gets_a_reason():
    value = parse_slot("phone", "five five five one two", "en", options={"region": "US"})
    assert validate_slot(value, "en") == "that number is too short; some digits are missing"


# ---------------------------------------------------------------- choice

DEPARTMENTS = {"choices": {
    "billing": {"en": ["billing", "invoices"], "es": ["facturación", "facturas"],
                "fr": ["facturation"], "de": ["Rechnungen", "Buchhaltung"], "zh": ["账单"]},
    "sales": {"en": ["sales"], "es": ["ventas"], "fr": ["ventes"], "de": ["Verkauf"],
              "zh": ["销售"]},
    "technical_support": {"en": ["technical support", "tech support"], "es": ["soporte técnico"],
                          "fr": ["support technique"], "de": ["technischer Support"],
                          "zh": ["技术支持"]},
}}


@pytest.mark.parametrize("lang, text, expected", [
    ("en", "Billing, please.", "billing"), ("en", "I need tech support.", "technical_support"),
    ("en", "Bilings.", "billing"),  # misheard, fuzzy
    ("es", "Con ventas, por favor.", "sales"), ("es", "Soporte tecnico.", "technical_support"),
    ("fr", "La facturation.", "billing"), ("de", "Den technischen Support bitte.",
                                            "technical_support"),
    ("zh", "我要找销售", "sales"),
])
def test_caller_picks_a_department(lang, text, expected):
    assert said("choice", text, lang, **DEPARTMENTS) == expected


def test_an_unknown_department_lists_the_options():
    assert said("choice", "the kitchen", "en", **DEPARTMENTS) is None
    assert no_match_reason("choice", "en", DEPARTMENTS) \
        == "the options are: billing, sales or technical support"
    assert no_match_reason("choice", "es", DEPARTMENTS) \
        == "the options are: facturación, ventas o soporte técnico"


# ---------------------------------------------------------------- text

def test_free_text_is_trimmed():
    assert said("text", "  My name is Ana García.  ", "es") == "My name is Ana García"
    assert said("text", "   ", "en") is None


# ---------------------------------------------------------------- the registry

def test_every_type_is_registered_and_unknown_names_are_a_clear_error():
    assert slot_type_names() == ["amount", "choice", "date", "datetime", "digits", "email",
                                 "number", "phone", "text", "time", "yes_no"]
    with pytest.raises(UnknownSlotTypeError, match="unknown slot type 'dat'; known types: amount"):
        get_slot_type("dat")
    with pytest.raises(SlotOptionError, match="min_lenght"):
        parse_slot("digits", "1234", "en", options={"min_lenght": 4})


def test_agent_check_finds_bad_slot_declarations():
    assert check_slot("date", {"business_hours": "8-20"}) \
        == ["business_hours '8-20': write it as 'HH:MM-HH:MM'"]
    assert check_slot("choice", {}) == ["choice: `choices` must list at least one option"]
    assert check_slot("datetime", {"closed_weekdays": ["sunday"]}) == []
    assert check_slot("colour") != []
