"""Settings: config/default.yaml, an optional override file, then environment variables.

Precedence (highest first): explicit overrides passed to `load_settings`, environment variables
(`VOICE_AGENT_<SECTION>__<KEY>`, plus the conventional `TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN`,
`TWILIO_FROM_NUMBER` and `VOICE_AGENT_PUBLIC_URL`), the file named by `VOICE_AGENT_CONFIG`,
config/default.yaml.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, field_validator

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / "config" / "default.yaml"


class LanguageSettings(BaseModel):
    """Codes are Whisper's (ISO 639-1) and name the agent folder's texts (lang/<code>.yaml)
    and the voice (tts.voices.<code>). Switching thresholds: docs/languages.md."""

    default: str = "en"
    allowed: list[str] = ["en", "es", "fr", "de", "zh"]
    by_number: dict[str, str] = {}  # dialled number (E.164) → the language its calls start in
    switch_min_probability: float = 0.6  # a turn below this is no evidence
    switch_min_audio_s: float = 1.2  # a turn shorter than this is no evidence ("okay", "ja")
    switch_consecutive_turns: int = 2  # this many turns in a row in another language → switch
    switch_single_turn_min_probability: float = 0.85  # one turn this sure …
    switch_single_turn_min_audio_s: float = 2.5  # … and this long switches at once
    switch_first_turn_min_probability: float = 0.95  # the first counted turn: this sure
    stt_hint_weight: float = 3.0  # the call's language is favoured this much when decoding

    @field_validator("allowed")
    @classmethod
    def _not_empty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("languages.allowed must name at least one language")
        return v


class STTSettings(BaseModel):
    model: str = "whisper-base"
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    compute_type: str = "int8"
    beam_size: int = 1
    cpu_threads: int = 2
    trailing_silence_secs: float = 0.2
    no_speech_threshold: float = 0.6
    encoder_window: Literal["adaptive", "full"] = "adaptive"


class VADSettings(BaseModel):
    engine: Literal["webrtc", "silero"] = "webrtc"
    webrtc_aggressiveness: int = Field(2, ge=0, le=3)
    confidence: float = 0.7
    start_secs: float = 0.2
    stop_secs: float = 0.5
    min_volume: float = 0.0


class BargeInSettings(BaseModel):
    """When the caller may interrupt the bot, and how an interruption is told from noise."""

    enabled: bool = True
    clear_on_pause: bool = True  # Twilio: `clear` at the caller's onset, resume from the cut
    confirm_secs: float = 0.8  # caller speech this long over the bot → clear + cancel at once
    resume_after_secs: float = 0.25  # a shorter sound, then this much quiet → the answer goes on
    resolve_timeout_secs: float = 3.0  # a paused answer with no verdict by then resumes
    playout_lead_secs: float = 0.08  # bot audio handed to the transport ahead of real time
    echo_correlation: float = 0.5  # inbound vs recent bot audio above this → own echo
    echo_max_level: float = 0.35  # …and at most this loud against it (echo loss ≥ 9 dB)
    echo_max_delay_secs: float = 0.8  # longest echo path (transport + network + handset)
    echo_window_secs: float = 0.6  # inbound audio compared with the bot's
    backchannels: dict[str, list[str]] = {}  # per language: words that never interrupt
    min_words: int = 2  # a short sound over the bot interrupts with this many words…
    min_language_probability: float = 0.8  # …heard this surely (Whisper's language ID)…
    stop_words: dict[str, list[str]] = {}  # …or one of these
    pause_voiced_secs: float = 0.04  # voiced (periodic) audio before a sound pauses the answer
    min_voiced_secs: float = 0.08  # less in the whole sound: noise, its transcript ignored
    early_pause: bool = True  # pause on a voice before the VAD's start (not on the bot's echo)


class TurnSettings(BaseModel):
    """When the caller's turn is over (docs/bargein.md, "End of turn")."""

    detector: Literal["vad", "smart_turn"] = "vad"
    smart_turn_vad_stop_secs: float = 0.2  # with smart_turn: silence that asks the model
    smart_turn_threshold: float = 0.5  # model probability of "finished" that ends the turn
    max_pause_secs: float = 2.0  # a held (unfinished-sounding) turn ends after this silence


class DtmfSettings(BaseModel):
    # digit → action: operator | repeat | goodbye | language:<code>
    actions: dict[str, str] = {"0": "operator", "2": "language:es", "9": "repeat"}


class VoiceSettings(BaseModel):
    engine: Literal["piper", "espeak", "coqui"]
    voice: str  # piper: registry name; espeak: espeak-ng voice; coqui: local model folder
    speaker: str | None = None  # coqui multi-speaker models (XTTS-v2: a built-in speaker)
    speaker_wav: str | None = None  # coqui XTTS-v2: reference clip instead of a named speaker
    language: str | None = None  # coqui multilingual models (XTTS-v2): the model's language
    device: Literal["auto", "cpu", "cuda"] = "auto"  # coqui: auto = the GPU when present


class TTSSettings(BaseModel):
    voices: dict[str, VoiceSettings] = {}
    espeak_rate: int = 160
    precache_answers: bool = True


class DialogueSettings(BaseModel):
    engine: Literal["finetuned", "baseline"] = "finetuned"
    min_confidence: float = 0.5  # fine-tuned model: intent probability
    baseline_min_confidence: float = 0.3  # baseline: n-gram cosine similarity
    low_confidence_transfer_after: int = 2  # this many unclear turns in a row → a human
    device: str = "cpu"  # where the understanding model runs (cuda on a GPU machine)


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = None
    media_path: str = "/media"
    max_message_bytes: int = 65536
    max_calls: int = 20
    # X-Forwarded-For/-Proto are believed only from these (a reverse proxy or tunnel agent on
    # this host); from anyone else a caller could pick the address the login lockout counts
    trusted_proxies: list[str] = ["127.0.0.1", "::1"]
    # POST /api/calls: keys as "sha256:<hex>" (preferred: the file holds no secret) or plain
    api_keys: list[str] = []


def _phone_number(value: Any) -> Any:
    if isinstance(value, int | float):  # YAML read +15551234567 (unquoted) as a number
        raise ValueError(f"phone number {value} must be a quoted string, e.g. '+15551234567'")
    return value


class TwilioSettings(BaseModel):
    account_sid: str | None = None
    auth_token: str | None = None
    api_base_url: str | None = None
    validate_signatures: bool = True  # False only for local tests (`serve --insecure-dev`)
    from_number: str | None = None  # caller ID of outbound calls (E.164, a Twilio number)
    stream_token_secret: str | None = None  # None: random per process (one worker only)
    stream_token_ttl_s: float = 60.0  # TwiML answered → media stream must start within this
    status_callback_events: list[str] = ["initiated", "ringing", "answered", "completed"]

    _phone = field_validator("from_number", mode="before")(lambda v: _phone_number(v))

    @property
    def has_credentials(self) -> bool:
        return bool(self.account_sid and self.auth_token)


class OperatorSettings(BaseModel):
    """The operator page. No users: the page is closed (every login refused)."""

    users: dict[str, str] = {}  # name → argon2 hash, made with `voice-agent operator-hash`
    session_secret: str | None = None  # signs session cookies; None: random per process
    session_max_age_s: int = 12 * 3600
    listen_queue_frames: int = 50  # per listener and side (20 ms frames); beyond: dropped
    ended_calls_shown: int = 20  # recently ended calls kept in the live list
    login_max_failures: int = 5  # failed logins from one address within login_lockout_s …
    login_lockout_s: float = 300  # … lock that address out until the window has passed


class TransferSettings(BaseModel):
    """Where a hand-over to a human goes (Twilio `<Dial>`): a number or a SIP URI."""

    operator_number: str | None = None  # E.164
    sip_uri: str | None = None  # used when no operator_number is set
    # Redirect after the hand-over sentence has played (ReplyPlayed); at most this long.
    reply_played_timeout_s: float = 10.0

    _phone = field_validator("operator_number", mode="before")(lambda v: _phone_number(v))


class SipSettings(BaseModel):
    """The direct SIP trunk endpoint (UDP): off unless enabled."""

    enabled: bool = False
    host: str = "127.0.0.1"  # bind address for SIP and RTP
    port: int = 5060
    advertise_ip: str | None = None  # address put in Contact/SDP; None: host (or the route's)
    rtp_port_min: int = 20000
    rtp_port_max: int = 20999
    allowed_addresses: list[str] = ["127.0.0.1"]  # trunk IPs or CIDR networks; others get 403
    max_calls: int = 10  # concurrent SIP calls; more INVITEs get 486 Busy Here
    refer: bool = True  # transfer with REFER (when the trunk's Allow lists it) to transfer.sip_uri


class StorageSettings(BaseModel):
    """Call records (docs/operations.md): SQLite by default, PostgreSQL by URL."""

    enabled: bool = True
    url: str = "sqlite:///var/voice_agent.db"  # relative SQLite paths: from the repository root
    retention_days: float | None = 90  # records older than this are purged daily; None: kept
    keep_feedback: bool = True  # operators' intent corrections survive the purge
    mask_caller_numbers: bool = False  # store caller/callee as +1••••••0000
    queue_size: int = 10_000  # events waiting to be written; beyond: dropped with a warning


class BusSettings(BaseModel):
    """Where call events travel: within this process, or between workers through Redis."""

    backend: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    channel: str = "voice_agent:events"
    queue_size: int = 10_000  # events waiting to go to Redis; beyond: dropped with a warning


class Settings(BaseModel):
    company: str = ""  # the agent folder's company.name unless set
    languages: LanguageSettings = LanguageSettings()
    stt: STTSettings = STTSettings()
    vad: VADSettings = VADSettings()
    tts: TTSSettings = TTSSettings()
    dialogue: DialogueSettings = DialogueSettings()
    bargein: BargeInSettings = BargeInSettings()
    turn: TurnSettings = TurnSettings()
    dtmf: DtmfSettings = DtmfSettings()
    agent: str = "northwind"  # the company's agent folder: <agents_dir>/<agent> (or a path)
    agents_dir: Path = Path("config/agents")
    agent_actions: dict[str, dict[str, Any]] = {}  # replace the folder's actions by name
    orders_db: Path | None = None  # SQLite file for the agent's tables; None: in memory
    server: ServerSettings = ServerSettings()
    twilio: TwilioSettings = TwilioSettings()
    storage: StorageSettings = StorageSettings()
    bus: BusSettings = BusSettings()
    transfer: TransferSettings = TransferSettings()
    sip: SipSettings = SipSettings()
    operator: OperatorSettings = OperatorSettings()

    def resolve(self, path: Path) -> Path:
        """Relative paths in config are relative to the repository root, not the cwd."""
        return path if path.is_absolute() else REPO_ROOT / path

    @property
    def agent_dir(self) -> Path:
        return agent_dir(self.agent, self.resolve(self.agents_dir))


def agent_dir(name: str, agents_dir: Path) -> Path:
    """An agent's folder: a name under agents_dir, or a path to a folder."""
    as_path = Path(name)
    if "/" in name or as_path.is_absolute():
        return as_path if as_path.is_absolute() else Path.cwd() / as_path
    return agents_dir / name


def _agent_overlay(data: dict[str, Any], agent: dict[str, Any]) -> dict[str, Any]:
    """The settings an agent folder's agent.yaml gives: above config/default.yaml, below any
    override file, environment variable or explicit override."""
    out = _deep_merge(data, {})
    set_ = {
        ("company",): (agent.get("company") or {}).get("name"),
        ("languages", "allowed"): (agent.get("languages") or {}).get("served"),
        ("languages", "default"): (agent.get("languages") or {}).get("default"),
        ("transfer", "operator_number"): (agent.get("transfer") or {}).get("phone"),
        ("transfer", "sip_uri"): (agent.get("transfer") or {}).get("sip_uri"),
        ("dtmf", "actions"): agent.get("dtmf") or None,  # the company's menu, not a merge
        ("dialogue", "low_confidence_transfer_after"):
            (agent.get("dialogue") or {}).get("unclear_turns_before_transfer"),
    }
    for lang, voice in (agent.get("voices") or {}).items():
        set_[("tts", "voices", lang)] = voice
    for keys, value in set_.items():
        if value is None:
            continue
        node = out
        for key in keys[:-1]:
            node[key] = dict(node.get(key) or {})
            node = node[key]
        node[keys[-1]] = value
    return out


def _read_agent_file(data: dict[str, Any]) -> dict[str, Any]:
    """agent.yaml of the agent the merged settings name ({} when unreadable: `agent check`
    reports a broken folder, settings still load)."""
    agents = Path(data.get("agents_dir") or "config/agents")
    folder = agent_dir(str(data.get("agent") or Settings.model_fields["agent"].default),
                       agents if agents.is_absolute() else REPO_ROOT / agents)
    try:
        loaded = yaml.safe_load((folder / "agent.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as e:
        raise ValueError(f"config file not found: {path}") from e
    if not isinstance(data, dict):
        raise ValueError(f"config file {path} must hold a mapping at top level")
    return data


def _env_overrides(env: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    prefix = "VOICE_AGENT_"
    for name, value in env.items():
        if not name.startswith(prefix) or name in ("VOICE_AGENT_CONFIG", "VOICE_AGENT_PUBLIC_URL"):
            continue
        keys = name[len(prefix) :].lower().split("__")
        node = out
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = yaml.safe_load(value) if value else value
    conventional = {
        "TWILIO_ACCOUNT_SID": ("twilio", "account_sid"),
        "TWILIO_AUTH_TOKEN": ("twilio", "auth_token"),
        "TWILIO_FROM_NUMBER": ("twilio", "from_number"),
        "VOICE_AGENT_PUBLIC_URL": ("server", "public_url"),
    }
    for name, (section, key) in conventional.items():
        if env.get(name):
            out.setdefault(section, {})[key] = env[name]
    return out


def load_settings(
    config_file: Path | None = None,
    overrides: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> Settings:
    """Build the settings from the default file, an override file, the environment, overrides."""
    env = dict(os.environ) if env is None else env
    defaults = _read_yaml(DEFAULT_CONFIG) if DEFAULT_CONFIG.exists() else {}
    named = env.get("VOICE_AGENT_CONFIG")
    extra = config_file or (Path(named) if named else None)
    layers = [_read_yaml(extra)] if extra else []
    layers += [_env_overrides(env), overrides or {}]
    named_agent = defaults
    for layer in layers:
        named_agent = _deep_merge(named_agent, layer)
    # the company's folder (agent.yaml) sits between the defaults and everything else
    data = _agent_overlay(defaults, _read_agent_file(named_agent))
    for layer in layers:
        data = _deep_merge(data, layer)
    return Settings.model_validate(data)
