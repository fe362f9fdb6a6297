"""Validation limits: the one source of truth for every range the app and the cloud check."""

from __future__ import annotations

import re

NAME_MAX = 32  # controllers show names on small displays; OpenSprinkler's own limit is 32
TEXT_MAX = 2000  # notes, location, address
ZONES_MIN, ZONES_MAX = 1, 200  # OpenSprinkler tops out at 200 stations with expansion boards
RUN_MINUTES_MIN, RUN_MINUTES_MAX = 0, 720  # 0 = zone not watered by this entry; 12 h cap
CYCLE_MINUTES_MAX = 240
SOAK_MINUTES_MAX = 240
SEASONAL_ADJUST_MIN, SEASONAL_ADJUST_MAX = 0, 250  # percent
PROGRAMS_MAX = 40
START_TIMES_MAX = 4
PROGRAM_ID_MAX = 64  # a program's identity (a UUID is 36); docs/protocol.md
INTERVAL_DAYS_MIN, INTERVAL_DAYS_MAX = 2, 30
RAIN_DELAY_HOURS_MAX = 24 * 14
# Tags on customers and controllers ("spring commercial"): lower-case words, space separated.
TAGS_MAX, TAG_MAX = 20, 24
TAG_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
TAGS_TEXT_MAX = TAGS_MAX * (TAG_MAX + 1)
MANUAL_RUN_SECONDS_MAX = 64800  # 18 h, the OpenSprinkler limit
# How long a campaign's canary devices have to confirm it once it is in the cloud: a device
# asks for its configuration with every heartbeat (about a minute), so this allows for a
# reboot or a flaky link several times over, and a person still sees the result within a
# coffee break (settings.toml `canary_limit_minutes` changes it).
CANARY_LIMIT_MINUTES = 30

# A plan code is four hex characters, a dash, four more: 45F2-644E.
PLAN_CODE_RE = re.compile(r"^[0-9A-F]{4}-[0-9A-F]{4}$")
# Serial numbers: a 2–4 character maker prefix, a dash, 6–16 characters (FT1-0A1B2C3D,
# OS-A1B2C3D4E5F6 for an OpenSprinkler keyed by its MAC address).
SERIAL_RE = re.compile(r"^[A-Z0-9]{2,4}-[A-Z0-9]{6,16}$")
# At least 3 digits, with the usual separators, a leading + and letters (1-800-FLOWERS, ext.).
PHONE_RE = re.compile(r"^\+?(?=(?:\D*\d){3})[0-9A-Za-z\s().\-/]+$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
START_TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
# Control characters (C0 and DEL) never belong in what a technician types: PostgreSQL text cannot
# hold NUL, and a controller's small display cannot show the rest. Names and other one-line
# fields refuse them all; multi-line text (address, notes, location) keeps tab and line breaks.
# Bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) are refused
# in one-line fields too: they make an e-mail or a name display as something it is not.
SINGLE_LINE_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
TEXT_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
