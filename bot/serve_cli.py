"""`trustacks serve` (the webhook service) and `trustacks jobs` (the operators' view of the queue).

`run_service()` is the whole service lifecycle, usable without the CLI: open and migrate the store
(fail fast), start the worker pool, listen, and on SIGTERM/SIGINT shut down gracefully: stop
accepting (readiness goes 503, the listener closes, in-flight requests finish), let running jobs
finish within TRUSTACKS_SHUTDOWN_GRACE_SECONDS, release the rest, close the store.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import inspect
import json
import logging
import signal
import sys
from typing import Any, Awaitable, Callable, Mapping

import click

from bot.config import ConfigError, Settings, load_settings
from bot.logs import REDACTED, configure_logging
from bot.store import JOB_STATES, Job, StoreError, ThreadedStore, open_store

Dispatcher = Callable[[Job], Awaitable[None]]


def redactor(settings: Settings) -> Callable[[str], str]:
    """A function replacing every configured secret value in a text by ***."""
    values = sorted(settings.secrets(), key=len, reverse=True)

    def redact(text: str) -> str:
        for value in values:
            text = text.replace(value, REDACTED)
        return text

    return redact


def store_for(settings: Settings) -> ThreadedStore:
    return open_store(settings.database_url, lease_seconds=settings.lease_seconds, max_attempts=settings.max_attempts)


async def run_service(
    settings: Settings,
    dispatcher: Dispatcher,
    *,
    ready_checks: Mapping[str, Callable[[], object]] | None = None,
    stop: asyncio.Event | None = None,
    on_listening: Callable[[str, int], None] | None = None,
) -> None:
    """Run the web app and the worker pool until `stop` is set (or SIGTERM/SIGINT), then drain.

    `ready_checks` join the store check in /readyz; a dispatcher with an `aclose()` attribute is
    closed after the workers stop."""
    from aiohttp import web

    from bot.metrics import Metrics
    from bot.web import create_app
    from bot.worker import WorkerPool

    log = logging.getLogger("trustacks.serve")
    for warning in settings.warnings:
        log.warning(warning)
    store = store_for(settings)
    try:
        await store.open()
    except StoreError as exc:
        raise ConfigError(f"cannot open the queue at {settings.database_url_redacted}: {exc}") from None
    metrics = Metrics()
    pool = WorkerPool(
        store,
        dispatcher,
        concurrency=settings.workers,
        poll_seconds=settings.poll_seconds,
        backoff_base_seconds=settings.backoff_base_seconds,
        backoff_max_seconds=settings.backoff_max_seconds,
        retention_seconds=settings.retention_days * 86400,
        metrics=metrics,
        redact=redactor(settings),
    )
    audit, own_audit = _status_audit(settings, dispatcher)
    app = create_app(settings, store, metrics=metrics, ready_checks=ready_checks, on_enqueued=pool.notify,
                     audit=audit, policy=getattr(dispatcher, "policy", None))
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=10.0)
    await runner.setup()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    try:
        site = web.TCPSite(runner, settings.host, settings.port, reuse_address=True)
        await site.start()
        host, port = runner.addresses[0][:2]
        await pool.start()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, stop.set)
                installed.append(sig)
            except (NotImplementedError, RuntimeError):  # not the main thread / platform without signals
                pass
        log.info(
            "listening",
            extra={
                "host": host,
                "port": port,
                "database": settings.database_url_redacted,
                "workers": settings.workers,
                "dry_run": settings.dry_run,
                "endpoints": [r.resource.canonical for r in app.router.routes() if r.method == "POST"],
            },
        )
        if on_listening is not None:
            on_listening(host, port)
        await stop.wait()
        log.info("shutting down: no new deliveries; draining jobs")
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await runner.cleanup()  # readiness 503, listener closed, in-flight requests answered
        await pool.stop(grace=settings.shutdown_grace_seconds)
        await _close_dispatcher(dispatcher, log)
        if own_audit:
            audit.close()
        await store.close()
        log.info("stopped")


def _status_audit(settings: Settings, dispatcher: Dispatcher) -> tuple[Any, bool]:
    """The decision log the status page reads: the dispatcher's (an `audit` attribute), else, when the page
    is on, the service's audit file opened for reading. Returns (log or None, whether we opened it)."""
    audit = getattr(dispatcher, "audit", None)
    if audit is not None or settings.status_token is None:
        return audit, False
    path = settings.data_dir / "audit.db"
    if not path.exists():
        return None, False  # nothing decided yet; the page says the audit log is unavailable
    from bot.audit import AuditLog

    return AuditLog(path), True


async def _close_dispatcher(dispatcher: Dispatcher, log: logging.Logger) -> None:
    """Let the dispatcher release what it holds (HTTP sessions): an optional `aclose()` attribute."""
    aclose = getattr(dispatcher, "aclose", None)
    if aclose is None:
        return
    try:
        result = aclose()
        if inspect.isawaitable(result):
            await result
    except Exception:  # shutting down anyway: report, do not mask the exit
        log.exception("dispatcher close failed")


# --------------------------------------------------------------------------- trustacks serve


@click.command("serve")
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1, or TRUSTACKS_HOST).")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port (default 8080, or TRUSTACKS_PORT).")
@click.option(
    "--config", "config_file", type=click.Path(dir_okay=False), default=None,
    help="TOML file with the same keys as the TRUSTACKS_* variables (lower case, no prefix).",
)
@click.option("--dry-run", is_flag=True,
              help="Handle every event, write nothing to any repo except check runs (as TRUSTACKS_DRY_RUN=1).")
def serve_command(host: str | None, port: int | None, config_file: str | None, dry_run: bool) -> None:
    """Run the webhook service: verify, persist, answer 202; workers handle the queue."""
    try:
        settings = load_settings(file=config_file)
    except ConfigError as exc:
        raise click.ClickException(f"{exc}\nSee docs/configuration.md.") from None
    overrides = {k: v for k, v in (("host", host), ("port", port), ("dry_run", dry_run or None)) if v is not None}
    settings = dataclasses.replace(settings, **overrides)
    configure_logging(settings.log_level, secrets=settings.secrets())

    from bot.handlers import build_dispatcher

    try:
        dispatcher = build_dispatcher(settings)
    except ConfigError as exc:
        raise click.ClickException(f"{exc}\nSee docs/configuration.md.") from None
    checks = getattr(dispatcher, "ready_checks", None)
    try:
        asyncio.run(run_service(settings, dispatcher, ready_checks=checks))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:  # e.g. the port is taken
        raise click.ClickException(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from None


# --------------------------------------------------------------------------- trustacks jobs


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _first_line(text: str | None, width: int = 60) -> str:
    if not text:
        return ""
    line = text.strip().splitlines()[0]
    return line if len(line) <= width else line[: width - 1] + "…"


def format_jobs(jobs: list[Job]) -> str:
    """The `trustacks jobs` table."""
    header = ("ID", "STATE", "TRY", "FORGE", "EVENT", "DELIVERY", "RECEIVED (UTC)", "NEXT RUN (UTC)", "LAST ERROR")
    rows = [
        (
            str(j.id), j.state, str(j.attempts), j.forge, j.event, j.delivery_id[:36], _when(j.received_at),
            _when(j.next_run_at) if j.state in ("queued", "failed", "leased") else "-", _first_line(j.last_error),
        )
        for j in jobs
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows])


def _run_store(settings: Settings, fn: Callable[[ThreadedStore], Awaitable[object]]) -> object:
    async def go() -> object:
        store = store_for(settings)
        try:
            return await fn(store)
        finally:
            await store.close()

    try:
        return asyncio.run(go())
    except StoreError as exc:
        raise click.ClickException(f"queue at {settings.database_url_redacted} unavailable: {exc}") from None


@click.group("jobs", invoke_without_command=True)
@click.option("--state", type=click.Choice(JOB_STATES), default=None, help="Only jobs in this state.")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line instead of a table.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None)
@click.pass_context
def jobs_command(ctx: click.Context, state: str | None, limit: int, as_json: bool, config_file: str | None) -> None:
    """List queued, failed and dead-lettered webhook jobs (newest first)."""
    try:
        settings = load_settings(file=config_file, require_webhook_secret=False)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    ctx.obj = settings
    if ctx.invoked_subcommand is not None:
        return
    jobs = _run_store(settings, lambda s: s.list_jobs(state, limit=limit))
    assert isinstance(jobs, list)
    if as_json:
        for job in jobs:
            click.echo(json.dumps(job.summary(), sort_keys=True))
    elif jobs:
        click.echo(format_jobs(jobs))
    else:
        click.echo(f"no {state + ' ' if state else ''}jobs", err=True)


@jobs_command.command("retry")
@click.argument("job_id", type=int)
@click.pass_obj
def jobs_retry(settings: Settings, job_id: int) -> None:
    """Queue a failed or dead job again now, with its attempts reset."""
    ok = _run_store(settings, lambda s: s.retry(job_id))
    if not ok:
        job = _run_store(settings, lambda s: s.get_job(job_id))
        if job is None:
            raise click.ClickException(f"no job {job_id}; list them with `trustacks jobs`")
        assert isinstance(job, Job)
        raise click.ClickException(f"job {job_id} is {job.state}; only failed or dead jobs can be retried")
    click.echo(f"job {job_id} queued again")


@jobs_command.command("show")
@click.argument("job_id", type=int)
@click.pass_obj
def jobs_show(settings: Settings, job_id: int) -> None:
    """Show one job with its full last error (the payload is not printed)."""
    job = _run_store(settings, lambda s: s.get_job(job_id))
    if job is None:
        raise click.ClickException(f"no job {job_id}; list them with `trustacks jobs`")
    assert isinstance(job, Job)
    info = job.summary()
    info["headers"] = dict(job.headers)
    info["body_bytes"] = len(job.body or b"")
    error = info.pop("last_error")
    json.dump(info, sys.stdout, indent=2, sort_keys=True)
    click.echo()
    if error:
        click.echo("last error:\n" + error)
