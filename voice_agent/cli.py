"""`voice-agent` command line: serve, simulate, agent, models, bench."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from voice_agent.config import load_settings

app = typer.Typer(help="Multilingual telephony voice agent (Twilio / SIP / WAV replay).",
                  no_args_is_help=True, pretty_exceptions_enable=False)
bench_app = typer.Typer(help="Benchmarks; results go to docs/benchmarks.md.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
agent_app = typer.Typer(help="A company's agent folder (config/agents/<name>/, docs/agents.md).",
                        no_args_is_help=True)
app.add_typer(agent_app, name="agent")
console = Console()
ConfigOpt = typer.Option(None, "--config", "-c", help="YAML file overriding config/default.yaml")
AgentOpt = typer.Option(None, "--agent", help="agent folder: a name under config/agents/ or a "
                        "path (default from config: northwind)")


def _settings(config: Path | None, agent: str | None = None, overrides: dict | None = None):
    """The settings, with `--agent` (the folder's agent.yaml applies under the config)."""
    overrides = dict(overrides or {})
    if agent:
        overrides["agent"] = agent
    return load_settings(config, overrides)


def _refuse_failing_agent(settings) -> None:
    """A folder that fails `agent check` never serves a call: every problem, then exit 1."""
    from voice_agent.agent.check import check_folder

    problems = check_folder(settings.agent_dir)
    if problems:
        console.print(f"[red]error:[/] agent folder {settings.agent_dir} fails its check:",
                      soft_wrap=True)
        for p in problems:
            console.print(f"  {p}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def _quiet_logs(level: str = "WARNING") -> None:
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level=level)


@app.command()
def serve(
    host: str = typer.Option(None, help="bind address (default from config: 127.0.0.1)"),
    port: int = typer.Option(None, help="port (default from config: 8080)"),
    public_url: str = typer.Option(None, help="public https URL Twilio reaches us at "
                                   "(or VOICE_AGENT_PUBLIC_URL)"),
    config: Path = ConfigOpt,
    sip: bool = typer.Option(False, "--sip", help="also answer a SIP trunk (config `sip:`)"),
    insecure_dev: bool = typer.Option(False, "--insecure-dev", help="accept UNSIGNED Twilio "
                                      "webhooks (local tests only; warns on every request)"),
    agent: str = AgentOpt,
) -> None:
    """Start the server: POST /twiml (voice webhook), the media WebSocket, GET /health."""
    import uvicorn

    from voice_agent.app import create_app
    from voice_agent.server import uvicorn_config

    overrides: dict = {"server": {}}
    for key, value in (("host", host), ("port", port), ("public_url", public_url)):
        if value is not None:
            overrides["server"][key] = value
    if sip:
        overrides["sip"] = {"enabled": True}
    if insecure_dev:
        overrides["twilio"] = {"validate_signatures": False}
    settings = _settings(config, agent, overrides)
    _refuse_failing_agent(settings)
    _quiet_logs("INFO")
    from voice_agent.redaction import install_log_redaction

    install_log_redaction()  # no card, phone number or e-mail address in the server's log
    s = settings.server
    if settings.sip.enabled:
        console.print(f"SIP trunk endpoint on udp:{settings.sip.host}:{settings.sip.port}")
    console.print(f"[bold]voice agent[/] on http://{s.host}:{s.port}  (Twilio voice webhook: "
                  f"{s.public_url or 'http://<this host>'}/twiml)")
    uvicorn.Server(uvicorn_config(create_app(settings), s.host, s.port,
                                  trusted_proxies=s.trusted_proxies)).run()


@app.command()
def simulate(
    wavs: list[Path] = typer.Argument(..., help="caller utterances, one WAV per turn"),
    out_dir: Path = typer.Option(None, "--out-dir", help="write the bot's audio per turn here"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
    fast: bool = typer.Option(False, "--fast", help="don't pace audio in real time"),
    lang: str = typer.Option(None, "--lang", help="language the call starts in"),
    config: Path = ConfigOpt,
    agent: str = AgentOpt,
) -> None:
    """Replay WAV files as a phone call through the same pipeline a Twilio call uses."""
    from voice_agent.pipeline.factory import CallFactory
    from voice_agent.simulate import simulate_call

    _quiet_logs()
    missing = [str(w) for w in wavs if not w.exists()]
    if missing:
        console.print(f"[red]error:[/] no such file: {', '.join(missing)}")
        raise typer.Exit(2)
    settings = _settings(config, agent)
    _refuse_failing_agent(settings)
    factory = CallFactory.load(settings)
    factory.models.warm_up()
    call = simulate_call(factory, wavs, realtime=not fast, out_dir=out_dir, language=lang)
    result = asyncio.run(call)
    if as_json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    table = Table(title=f"call {result.call_id}")
    for col in ("turn", "transcript", "lang", "intent", "reply", "latency"):
        table.add_column(col)
    for t in result.turns:
        latency = f"{t.latency_s:.2f} s" if t.latency_s is not None else "—"
        table.add_row(str(t.turn), t.transcript, f"{t.language} {t.language_probability:.2f}",
                      f"{t.intent} {t.confidence:.2f}", t.reply, latency)
    console.print(table)
    for err in result.errors:
        console.print(f"[red]error:[/] {err}")
    if out_dir:
        console.print(f"bot audio per turn written to {out_dir}/")


@app.command()
def models(
    prepare: bool = typer.Option(False, "--prepare", help="assemble split models into the cache"),
    config: Path = ConfigOpt,
) -> None:
    """List each model: where it comes from, its size, whether it is ready."""
    from voice_agent.models import CATALOGUE, ConvertedModel, SplitModel, cache_dir, model_size
    from voice_agent.nlu import gemma
    from voice_agent.nlu.finetuned import trained_model_exists
    from voice_agent.nlu.train import METADATA_FILE, MODEL_DIR

    load_settings(config)
    if prepare:
        for spec in CATALOGUE.values():
            if isinstance(spec, SplitModel) and not spec.missing_packages():
                spec.assemble()
        gemma.converted_dir()  # GGUF joined + converted to safetensors once (~1 min)
    table = Table(title=f"models (cache: {cache_dir()})")
    for col in ("name", "description", "source", "size", "ready"):
        table.add_column(col)
    for spec in CATALOGUE.values():
        size = model_size(spec)
        ready = spec.is_ready()
        if isinstance(spec, SplitModel) and not ready:
            missing = spec.missing_packages()
            status = f"missing {', '.join(missing)}" if missing else "not assembled (--prepare)"
        elif isinstance(spec, ConvertedModel) and not ready:
            status = "not converted (--prepare)"
        else:
            status = "ready" if ready else "missing"
        table.add_row(spec.name, spec.description, spec.source_text(),
                      f"{size / 1e6:.1f} MB" if size else "—",
                      f"[green]{status}[/]" if ready else f"[red]{status}[/]")
    if trained_model_exists():
        meta = json.loads((MODEL_DIR / METADATA_FILE).read_text())
        acc = meta["metrics"].get("heldout", {}).get("intent_accuracy_all")
        table.add_row("nlu-heads", f"fine-tuned intent/sentiment heads (held-out {acc:.1%})",
                      "models/nlu (trained here)",
                      f"{(MODEL_DIR / 'heads.safetensors').stat().st_size / 1e6:.1f} MB",
                      "[green]ready[/]")
    else:
        table.add_row("nlu-heads", "fine-tuned heads", "models/nlu", "—",
                      "[red]missing (voice-agent train)[/]")
    console.print(table)


@app.command()
def train(
    per_intent: int = typer.Option(None, help="use only N examples per intent and language "
                                   "(quick runs, CI)"),
    seed: int = typer.Option(0, help="random seed (fixed for reproducible models)"),
    device: str = typer.Option("cpu", help="cpu or cuda"),
    out_dir: Path = typer.Option(None, help="where to write the model (default models/nlu)"),
    evaluate: bool = typer.Option(True, help="score the held-out split after training"),
    method: str = typer.Option("head", help="head (shipped: linear heads on frozen Gemma "
                               "features) or lora (peft LoRA + head, the measured alternative)"),
    epochs: int = typer.Option(3, help="lora only: epochs"),
    with_feedback: bool = typer.Option(False, "--with-feedback", help="also learn the intents "
                                       "operators corrected on the operator page (call records "
                                       "in storage.url)"),
    config: Path = ConfigOpt,
) -> None:
    """Fine-tune the understanding model (Gemma 3 270M features + trained heads)."""
    from voice_agent.nlu.train import MODEL_DIR
    from voice_agent.nlu.train import train as run_training

    _quiet_logs("INFO")
    feedback = None
    if with_feedback:
        if method != "head":
            console.print("[red]error:[/] --with-feedback trains the intent head (--method head)")
            raise typer.Exit(2)
        from voice_agent.nlu.feedback import stored_feedback_rows
        from voice_agent.store import CallStore

        store = CallStore.open(load_settings(config).storage)
        feedback = stored_feedback_rows(store)
        store.dispose()
        console.print(f"{len(feedback)} corrected turn(s) from intent feedback added")
    if method == "lora":
        from voice_agent.nlu.lora import train_lora

        kwargs = {"out_dir": out_dir} if out_dir else {}
        metrics = train_lora(epochs=epochs, rank=8, lr=2e-4, batch_size=16, seed=seed,
                             per_intent=per_intent, **kwargs)
        console.print_json(json.dumps(metrics, default=str))
        return
    if method != "head":
        console.print(f"[red]error:[/] unknown method {method!r} (head or lora)")
        raise typer.Exit(2)
    result = run_training(out_dir=out_dir or MODEL_DIR, per_intent=per_intent, seed=seed,
                          device=device, evaluate=evaluate, feedback=feedback)
    console.print(f"model written to {result.out_dir} in {result.seconds:.0f} s")
    console.print_json(json.dumps(result.metrics))


@app.command("eval")
def evaluate(
    write: bool = typer.Option(True, help="write the report to docs/nlu_eval.md"),
    config: Path = ConfigOpt,
) -> None:
    """Held-out report: per-language accuracy of the model beside the baseline, confusions,
    order-number slot accuracy, sentiment, latency per turn."""
    from voice_agent.model_loaders import model_registry
    from voice_agent.nlu.evaluate import run_eval
    from voice_agent.nlu.finetuned import FineTunedUnderstander

    _quiet_logs()
    settings = load_settings(config)
    model = FineTunedUnderstander(model_registry(settings).gemma_encoder())
    console.print(run_eval(settings, model, write))


@app.command()
def understand(
    text: str = typer.Argument(..., help="an utterance, or - to read one per line from stdin"),
    lang: str = typer.Option(None, "--lang", help="language of the text (default from config)"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per utterance"),
    config: Path = ConfigOpt,
    agent: str = AgentOpt,
) -> None:
    """Intent, confidence, slots, sentiment and the agent's reply for an utterance."""
    from voice_agent.nlu.policy import DialogueContext
    from voice_agent.pipeline.shared_models import SharedModels

    _quiet_logs()
    settings = _settings(config, agent)
    _refuse_failing_agent(settings)
    models = SharedModels.load(settings)
    language = lang or models.settings.languages.default
    if language not in models.kb.packs:
        console.print(f"[red]error:[/] language {language!r} is not configured")
        raise typer.Exit(2)
    policy = models.dialogue_policy()
    lines = sys.stdin if text == "-" else [text]
    for line in lines:
        line = line.strip()
        if not line:
            continue
        understood = models.understander.understand(line, language)
        reply = policy.respond(understood, DialogueContext())  # each line stands alone
        out = {"intent": understood.intent, "confidence": understood.confidence,
               "language": language, "slots": understood.slots,
               "sentiment": understood.sentiment, "reply": reply.text}
        if as_json:
            print(json.dumps(out, ensure_ascii=False), flush=True)
        else:
            console.print(out)


@agent_app.command("new")
def agent_new(
    name: str = typer.Argument(..., help="the folder's name (config/agents/NAME) or a path"),
    company: str = typer.Option(None, help="the company's name (default: from NAME)"),
    config: Path = ConfigOpt,
) -> None:
    """Write a commented agent folder that passes `agent check`; edit it from there."""
    from voice_agent.agent.scaffold import scaffold

    folder = _settings(config, name).agent_dir
    try:
        written = scaffold(folder, company)
    except FileExistsError as e:
        console.print(f"[red]error:[/] {e}")
        raise typer.Exit(1) from e
    for path in written:
        console.print(f"wrote {path}", markup=False, highlight=False)
    console.print(f"next: edit the files, then `voice-agent agent check {name}`")


@agent_app.command("check")
def agent_check(
    name: str = typer.Argument(None, help="the folder's name or a path (default: config's)"),
    config: Path = ConfigOpt,
) -> None:
    """Every error in an agent folder, with file and line; exit 1 when there is one."""
    from voice_agent.agent.check import check_folder

    folder = _settings(config, name).agent_dir
    problems = check_folder(folder)
    for p in problems:
        console.print(str(p), markup=False, highlight=False, soft_wrap=True)
    if problems:
        console.print(f"[red]{len(problems)} problem(s)[/] in {folder}", soft_wrap=True)
        raise typer.Exit(1)
    console.print(f"[green]ok[/] {folder}")


@app.command()
def call(
    to: str = typer.Argument(..., help="number to call, E.164 (+15551234567)"),
    lang: str = typer.Option(None, "--lang", help="language the call starts in"),
    from_: str = typer.Option(None, "--from", help="caller ID, a Twilio number "
                              "(default twilio.from_number)"),
    config: Path = ConfigOpt,
) -> None:
    """Place an outbound call through Twilio; the running server (public URL) takes it."""
    from twilio.base.exceptions import TwilioRestException

    from voice_agent.telephony.twilio.outbound import place_call
    from voice_agent.telephony.twilio.rest import TwilioConfigError

    try:
        placed = place_call(load_settings(config), to, from_, lang)
    except TwilioConfigError as e:
        console.print(f"[red]error:[/] {e}")
        raise typer.Exit(2) from e
    except TwilioRestException as e:
        console.print(f"[red]error:[/] Twilio refused the call: {e.msg}")
        raise typer.Exit(1) from e
    except OSError as e:  # requests' connection errors are OSErrors
        console.print(f"[red]error:[/] cannot reach Twilio: {e}")
        raise typer.Exit(1) from e
    print(json.dumps({"call_sid": placed.call_sid, "to": placed.to, "from": placed.from_,
                      "status": placed.status, "lang": placed.language}))


@app.command("api-key")
def api_key() -> None:
    """Make a new API key for POST /api/calls, and the line for `server.api_keys`."""
    import secrets

    from voice_agent.telephony.twilio.security import hash_api_key

    key = secrets.token_urlsafe(32)
    print(f"API key (give it to the client; it is not stored): {key}")
    print(f"server:\n  api_keys:\n    - '{hash_api_key(key)}'")


@app.command("operator-hash")
def operator_hash(
    name: str = typer.Argument("operator", help="the operator's login name"),
    stdin: bool = typer.Option(False, "--stdin", help="read the password from standard input"),
) -> None:
    """Hash an operator password (argon2id) for `operator.users` in the config."""
    from voice_agent.operator.auth import hash_password

    if stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    if not password:
        console.print("[red]error:[/] the password must not be empty")
        raise typer.Exit(2)
    print(f"operator:\n  users:\n    {name}: '{hash_password(password)}'")


@bench_app.command("latency")
def bench_latency(
    fixtures: list[Path] = typer.Argument(None, help="caller WAVs (default: English fixtures)"),
    calls: int = typer.Option(1, help="simulated calls, one after another"),
    write: bool = typer.Option(True, help="append the results to docs/benchmarks.md"),
    config: Path = ConfigOpt,
) -> None:
    """Start the server, call it over the real WebSocket, report greeting and response latency."""
    from voice_agent.bench.latency import run_latency_bench

    _quiet_logs()
    report = asyncio.run(run_latency_bench(load_settings(config), fixtures or None, calls, write))
    console.print(report)


@bench_app.command("operator")
def bench_operator(
    calls: int = typer.Option(20, help="simultaneous event-level simulated calls"),
    seconds: float = typer.Option(30.0, help="how long the calls talk"),
    write: bool = typer.Option(True, help="append the results to docs/benchmarks.md"),
    config: Path = ConfigOpt,
) -> None:
    """Caller turn → line on the operator page (headless Chromium), and the page under load."""
    from voice_agent.bench.operator import run_operator_bench

    _quiet_logs()
    report = asyncio.run(run_operator_bench(load_settings(config), calls=calls,
                                            seconds=seconds, write=write))
    console.print(report)


@bench_app.command("stt")
def bench_stt(
    repeats: int = typer.Option(3, help="runs per fixture and window (median taken)"),
    write: bool = typer.Option(True, help="append the results to docs/benchmarks.md"),
    config: Path = ConfigOpt,
) -> None:
    """Transcription speed, WER and language ID on the fixtures, full vs adaptive window."""
    from voice_agent.bench.stt import run_stt_bench

    _quiet_logs()
    console.print(run_stt_bench(load_settings(config), repeats, write))


@bench_app.command("language")
def bench_language(
    sentences: int = typer.Option(4, help="knowledge-base answers timed per voice"),
    write: bool = typer.Option(True, help="append the results to docs/benchmarks.md"),
    config: Path = ConfigOpt,
) -> None:
    """Language ID (restricted vs all), scripted switching calls, TTS first audio per engine."""
    from voice_agent.bench.language import run_language_bench

    _quiet_logs()
    console.print(asyncio.run(run_language_bench(load_settings(config), sentences, write)))


@bench_app.command("faq")
def bench_faq(
    agent: str = AgentOpt,
    candidates: str = typer.Option(
        "char-tfidf/knn,char-tfidf,gemma/knn,gemma,e5-small/knn,e5-small,e5-small+0.1",
        help="encoders to compare ('/knn': nearest question only; '+w': char n-gram weight)"),
    calibrate: bool = typer.Option(False, help="write the shipped encoder's dev-calibrated "
                                   "thresholds to faq/retrieval.yaml"),
    write: bool = typer.Option(False, help="append the results to docs/benchmarks.md"),
) -> None:
    """FAQ retrieval: held-out top-1, confident answers, unanswerable turns, search latency."""
    from voice_agent.bench.faq import run_faq_bench

    _quiet_logs()
    agent_dir = _settings(None, agent).agent_dir
    console.print(run_faq_bench(agent_dir, tuple(c for c in candidates.split(",") if c),
                                calibrate, write))


@bench_app.command("bargein")
def bench_bargein(
    offsets: str = typer.Option("1.0,3.0", help="seconds into the answer the caller cuts in"),
    echo_trials: int = typer.Option(3, help="answers played back as -20 dB echo"),
    turn_end: bool = typer.Option(True, help="also compare end-of-turn settings on pauses"),
    write: bool = typer.Option(True, help="append the results to docs/benchmarks.md"),
    config: Path = ConfigOpt,
) -> None:
    """Interruptions, backchannels, noises and echo over the real WebSocket; end of turn."""
    from voice_agent.bench.bargein_report import run_bargein_report

    _quiet_logs()
    at = [float(x) for x in offsets.split(",") if x.strip()]
    console.print(run_bargein_report(load_settings(config), at, echo_trials, turn_end, write))


@bench_app.command("slots")
def bench_slots(
    write: bool = typer.Option(False, help="append the results to docs/benchmarks.md"),
) -> None:
    """Slot parsers (dates, times, numbers, amounts, e-mail, phone) on held-out speech."""
    from voice_agent.bench.slots import run_slots_bench

    _quiet_logs()
    console.print(run_slots_bench(write))


@bench_app.command("fewshot")
def bench_fewshot(
    write: bool = typer.Option(False, help="append the results to docs/benchmarks.md"),
    draws: int = typer.Option(3, help="seeded random draws per size below 40"),
    heads: list[str] = typer.Option([], "--head", help="heads to compare (default: 3)"),
    ood: bool = typer.Option(True, help="also bench the out-of-distribution scores"),
    fewshot: bool = typer.Option(True, help="run the examples-per-intent table"),
) -> None:
    """Intent accuracy vs examples per intent (5 languages / English only), and OOD scores."""
    from voice_agent.bench.fewshot import run_fewshot_bench
    from voice_agent.bench.ood import run_ood_bench

    _quiet_logs()
    if fewshot:
        console.print(run_fewshot_bench(heads or None, draws=draws, write=write))
    if ood:
        console.print(run_ood_bench(write=write))


if __name__ == "__main__":
    app()
