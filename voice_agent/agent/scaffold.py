"""`voice-agent agent new NAME`: a commented agent folder that passes `agent check` as written.

It holds what every agent needs (the system intents, the fixed phrases) and one worked example
of each kind: an intent answered with approved text, and one that looks a booking up in a CSV
table by a number the caller says. A company edits from there.
"""

from __future__ import annotations

from pathlib import Path

AGENT_YAML = """\
# {company}: the company behind this agent (docs/agents.md, "agent.yaml").
company:
  name: {company}

languages:
  served: [en]                      # add a code here and a lang/<code>.yaml beside lang/en.yaml
  default: en                       # the language a call starts in

voices: {{}}                          # language → a voice as in config `tts.voices`; {{}}: config's

transfer:                           # where "a human, please" goes; null: config `transfer:`
  phone: null                       # E.164, quoted: "+15551234567"
  sip_uri: null

dtmf:                               # keypad digit → operator | repeat | goodbye | language:<code>
  "0": operator
  "9": repeat

dialogue:
  unclear_turns_before_transfer: 2  # turns the agent could not place, in a row, before a human
"""

INTENTS_YAML = """\
# What callers ask for (docs/agents.md, "intents.yaml"). Texts are in lang/<code>.yaml.
intents:
  booking_status:                   # an intent with a slot and an action
    slots:
      booking_number:               # asked for (lang: ask.booking_number) until given
        type: digits                # a product slot type: digits, number, amount, date, …
        options: {min_length: 4, max_length: 8}
    action: find_booking            # actions.yaml
    reply_by: status                # the reply is chosen by the booking's status

  opening_hours: {}                 # no slots, no action: the approved answer

  # system intents: their mechanics come with the product; keep them
  speak_to_agent: {}
  change_language: {}
  goodbye: {}
  affirm: {}
  deny: {}
  out_of_scope: {}
"""

ACTIONS_YAML = """\
# Where facts come from (docs/agents.md, "actions.yaml"): a table (CSV/SQLite) or your API.
tables:
  bookings:
    file: data/bookings.csv         # header row = column names
    key: number
    columns:
      number: {type: text}
      status: {type: text, values: [confirmed, waiting]}   # only these may appear
      day: {type: text}
    writes: call                    # call: changes last for the call; table: written to it

actions:
  find_booking:
    kind: table
    table: bookings
    key_slot: booking_number        # the slot looked up in the key column
  # the same lookup against your API instead:
  # find_booking:
  #   kind: http
  #   method: GET
  #   url: "https://api.example.com/bookings/{booking_number}"
  #   headers: {Authorization: "Bearer ${EXAMPLE_API_TOKEN}"}   # from the environment
  #   result: booking               # the object inside the JSON answer
  #   returns: [number, status, day]
  #   timeout_s: 2                  # slower: outcome failed → apology + offer of a human
"""

BOOKINGS_CSV = """\
number,status,day
5001,confirmed,Monday
5002,waiting,Tuesday
"""

EN_YAML = """\
# {company}: what the agent says and recognises in English (docs/agents.md, "lang/<code>.yaml").
language: en
name: English
phrases:                            # fixed phrases the mechanics use (all required)
  greeting: "Hello, thank you for calling {company}. How can I help you?"
  fallback: "Sorry, I didn't catch that. Could you say it another way?"
  transfer: "I'll put you through to a colleague now. Please hold the line."
  language_switched: "From now on I will speak English."
  action_failed: "Sorry, I can't reach our system right now. Shall I get you a colleague?"
  anything_else: "Is there anything else I can help you with?"
formats: {{}}                         # value → words, e.g. relative_days: {{"1": yesterday}}
intents:
  booking_status:
    examples:                       # how callers say it; more examples, better understanding
      - "What's the status of my booking?"
      - "Is booking 5001 confirmed?"
      - "Can you check my reservation?"
    ask:
      booking_number: "Sure. What is your booking number?"
    replies:                        # per outcome; {{field}}: a slot or a field of the result
      found:
        confirmed: "Booking {{booking_number}} is confirmed for {{day}}."
        waiting: "Booking {{booking_number}} is on the waiting list for {{day}}."
      not_found: "I couldn't find booking {{booking_number}}. Could you say the number again?"
  opening_hours:
    examples: ["When are you open?", "What are your opening hours?"]
    answer: "We're open Monday to Friday from nine to five."
  speak_to_agent:
    examples: ["I want to speak to a person.", "Agent, please."]
    answer: "I'll put you through to a colleague now."
  change_language:
    examples: ["Can we speak Spanish?", "Do you speak French?"]
    answer: "I'm sorry, I can only speak English."
  goodbye:
    examples: ["Bye.", "That's all, thanks."]
    answer: "Thank you for calling {company}. Goodbye!"
  affirm:
    examples: ["Yes.", "Yes, please."]
    answer: "Great."
  deny:
    examples: ["No.", "No, thanks."]
    answer: "No problem. Is there anything else I can help you with?"
  out_of_scope:
    examples: ["What's the weather like?", "Tell me a joke."]
    answer: "I'm sorry, I can only help with bookings and opening hours."
"""


def scaffold(folder: Path, company: str | None = None) -> list[Path]:
    """Write a new agent folder; refuses to overwrite one. Returns the files written."""
    if folder.exists() and any(folder.iterdir()):
        raise FileExistsError(f"{folder} already exists and is not empty")
    company = company or folder.name.replace("_", " ").replace("-", " ").title()
    files = {
        "agent.yaml": AGENT_YAML.format(company=company),
        "intents.yaml": INTENTS_YAML,
        "actions.yaml": ACTIONS_YAML,
        "data/bookings.csv": BOOKINGS_CSV,
        "lang/en.yaml": EN_YAML.format(company=company),
    }
    written = []
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
