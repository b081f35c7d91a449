"""What the CLI shows, as data (for --json) and as text tables. Pure: no printing here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mailer.model import Occurrence, Recipient

if TYPE_CHECKING:
    from mailer.actions.send import PlannedJob
    from mailer.errors import Problem
    from mailer.project.lists import SegmentSummary
    from mailer.sending.plan import SendPlan
    from mailer.sending.progress import Tally
    from mailer.store.ledger import SendStatus
    from mailer.store.suppression import Suppression


def occurrence_record(occurrence: Occurrence, has_file: bool) -> dict[str, Any]:
    """One session as JSON-ready data (`mailer dates --json`)."""
    content = occurrence.content
    moved_to = content.moved_to if content is not None else None
    return {
        "number": occurrence.number,
        "date": occurrence.scheduled.isoformat(),
        "status": occurrence.status,
        "start": occurrence.start.isoformat(),
        "end": occurrence.end.isoformat(),
        "start_utc": occurrence.start_utc.isoformat().replace("+00:00", "Z"),
        "end_utc": occurrence.end_utc.isoformat().replace("+00:00", "Z"),
        "moved_to": moved_to.date.isoformat() if moved_to is not None else None,
        "session_file": has_file,
    }


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain text table with left-aligned columns separated by two spaces."""
    cells = [[str(h) for h in headers], *([str(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in cells
    ]
    return "\n".join(lines)


def dates_table(occurrences: Iterable[Occurrence], files: Mapping[dt.date, object]) -> str:
    """`mailer dates` as a table."""
    rows = []
    for occurrence in occurrences:
        local = (
            f"{occurrence.start:%a %Y-%m-%d %H:%M}-{occurrence.end:%H:%M} "
            f"{occurrence.start.tzname()}"
        )
        rows.append(
            [
                occurrence.number if occurrence.number is not None else "-",
                occurrence.scheduled.isoformat(),
                occurrence.status,
                local if occurrence.status != "skipped" else "",
                f"{occurrence.start_utc:%Y-%m-%d %H:%M}Z" if occurrence.status != "skipped" else "",
                "yes" if occurrence.scheduled in files else "no",
            ]
        )
    return table(["#", "date", "status", "local time", "UTC start", "session file"], rows)


def recipient_record(recipient: Recipient) -> dict[str, Any]:
    """One resolved recipient as JSON-ready data (`mailer recipients SEGMENT --json`)."""
    return {
        "email": recipient.email,
        "name": recipient.name,
        "language": recipient.language,
        "tags": sorted(recipient.tags),
        "timezone": recipient.timezone,
        "source": recipient.source,
        "fields": dict(recipient.fields),
    }


def recipients_table(recipients: Iterable[Recipient]) -> str:
    """`mailer recipients SEGMENT` as a table."""
    rows = [[r.email, r.name, r.language, ";".join(sorted(r.tags)), r.source] for r in recipients]
    return table(["email", "name", "language", "tags", "from"], rows)


def summary_table(
    summaries: Iterable[SegmentSummary], languages: Sequence[str], date_given: bool
) -> str:
    """`mailer recipients`: every segment with its counts per language."""
    rows = []
    for summary in summaries:
        note = " (needs --date)" if summary.uses_date and not date_given else ""
        rows.append(
            [
                summary.name + note,
                summary.total,
                *(summary.per_language.get(language, 0) for language in languages),
                summary.suppressed,
            ]
        )
    return table(["segment", "recipients", *languages, "suppressed"], rows)


def summary_record(summary: SegmentSummary) -> dict[str, Any]:
    return {
        "segment": summary.name,
        "recipients": summary.total,
        "languages": summary.per_language,
        "suppressed": summary.suppressed,
        "uses_date": summary.uses_date,
    }


def suppression_record(entry: Suppression) -> dict[str, Any]:
    return {
        "address": entry.address,
        "kind": entry.kind,
        "reason": entry.reason,
        "since": entry.created_at.isoformat(),
        "emails": entry.scope,
    }


def _shown(entry: Suppression) -> str:
    """The address of a suppression, or what stands for an erased person."""
    return entry.address or f"(erased {entry.key.removeprefix('erased:')[:12]})"


def suppressions_table(entries: Iterable[Suppression]) -> str:
    rows = [
        [
            _shown(e),
            e.kind,
            e.scope,
            f"{e.created_at:%Y-%m-%d %H:%M}Z",
            e.reason,
        ]
        for e in entries
    ]
    return table(["address", "kind", "stops", "since", "reason"], rows)


def plan_text(plan: SendPlan, transport: str, now: dt.datetime, limit: int | None = None) -> str:
    """What a send will do, for the organiser to read before saying yes."""
    occurrence = plan.occurrence
    local = occurrence.start
    segments = ", ".join(plan.segments) if plan.segments else "everyone sent an earlier email"
    languages = ", ".join(f"{code} {n}" for code, n in sorted(plan.resolution.per_language.items()))
    email = plan.kind if plan.key.message == plan.kind else f"{plan.kind} ({plan.key.message})"
    lines = [
        f"Send the {email} of session {occurrence.number}, "
        f"{local:%A} {local.day} {local:%B %Y %H:%M} {local.tzname()}",
        f"  to {segments}: {plan.people} people ({languages or 'nobody'})"
        + (
            f"; {plan.resolution.suppressed} suppressed left out"
            if plan.resolution.suppressed
            else ""
        )
        + (
            "; the calendar's organizer left out (it cannot be its own attendee)"
            if plan.resolution.organizer
            else ""
        ),
    ]
    existing = {state: n for state, n in sorted(plan.existing.items()) if n}
    if existing:
        lines.append(
            "  already in the ledger: " + ", ".join(f"{n} {state}" for state, n in existing.items())
        )
    if plan.not_theirs:
        lines.append(
            f"  {plan.not_theirs} failed for a reason that is not theirs (the relay, the content, "
            + (
                "a bug, an unknown fate): sent again"
                if plan.resend_failed
                else "a bug, an unknown fate): add --resend-failed to send them again"
            )
        )
    if plan.too_late_early:
        lines.append(
            f"  {plan.too_late_early} marked too late by a clock ahead of this one: sent after all"
        )
    if limit is not None and limit < plan.to_send:
        lines.append(
            f"  to send now: {limit} of {plan.to_send} ({plan.new} new; --limit {limit}), "
            f"through {transport}"
        )
    else:
        lines.append(f"  to send now: {plan.to_send} ({plan.new} new), through {transport}")
    deadline = plan.deadline.astimezone(occurrence.start.tzinfo)
    lines.append(
        f"  deadline: {deadline:%Y-%m-%d %H:%M} {deadline.tzname()}"
        + (" (PASSED: nothing will be sent)" if plan.too_late(now) else "")
    )
    return "\n".join(lines)


def proof_text(plan: SendPlan, address: str, languages: Sequence[str]) -> str:
    """What a proof will do: one email per language to one address, recorded nowhere."""
    occurrence = plan.occurrence
    local = occurrence.start
    segments = ", ".join(plan.segments) if plan.segments else "everyone sent an earlier email"
    return "\n".join(
        [
            f"Proofs of the {plan.kind} ({plan.key.message}) of session {occurrence.number}, "
            f"{local:%A %d %B %Y %H:%M} {local.tzname()}",
            f"  to {address}: {len(languages)} emails, one per language ({', '.join(languages)}), "
            "each marked as a proof; recorded nowhere",
            f"  the real send goes to {segments}: {plan.people} people",
        ]
    )


def tally_line(tally: Tally, total: int) -> str:
    """`[########----] 120/300  sent 118  failed 2  retrying 0  95.2/s  ETA 0:02`."""
    done = tally.done
    width = 24
    filled = min(width, int(width * done / total)) if total else width
    rate = tally.rate()
    eta = ""
    if rate > 0 and total > done:
        seconds = int((total - done) / rate)
        eta = f"  ETA {seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    line = (
        f"[{'#' * filled}{'-' * (width - filled)}] {done}/{total}  sent {tally.sent}  "
        f"failed {tally.failed}  retrying {tally.retrying}  unknown {tally.unknown}  "
        f"{rate:.1f}/s{eta}"
    )
    if tally.waiting:
        line += f"  ({tally.waiting})"
    return line


def status_table(statuses: Sequence[SendStatus]) -> str:
    """`mailer status`: per session and email, the ledger's counts, and the commonest errors."""
    rows = []
    for status in statuses:
        counts = status.counts
        rows.append(
            [
                status.session.isoformat(),
                status.message,
                counts.get("sent", 0),
                counts.get("pending", 0) + counts.get("sending", 0),
                counts.get("retry", 0),
                counts.get("failed", 0),
                counts.get("unknown", 0),
                counts.get("skipped", 0),
                f"{status.deadline:%Y-%m-%d %H:%M}Z",
            ]
        )
    text = table(
        [
            "session",
            "email",
            "sent",
            "pending",
            "retrying",
            "failed",
            "unknown",
            "skipped",
            "deadline (UTC)",
        ],
        rows,
    )
    for status in statuses:
        for state, reason, count in status.errors:
            text += f"\n  {status.session} {status.message}: {count} {state}: {reason}"
    return text


ANSWER_ORDER = ("yes", "maybe", "no", "waiting", "none")
ANSWER_SAID = {"none": "no answer", "waiting": "waiting list"}


def headcount_text(counts: Mapping[str, int]) -> str:
    """`12 yes, 3 maybe, 2 no, 40 no answer` (the waiting list when there is one)."""
    return ", ".join(
        f"{counts.get(said, 0)} {ANSWER_SAID.get(said, said)}"
        for said in ANSWER_ORDER
        if said != "waiting" or counts.get(said)
    )


def answers_line(session: dt.date, counts: Mapping[str, int]) -> str:
    """`Answers for 2021-04-20: 12 yes, 3 maybe, 2 no, 40 no answer (mailer answers ...).`"""
    return f"Answers for {session}: {headcount_text(counts)} (mailer answers {session})."


def status_record(status: SendStatus, answers: Mapping[str, int] | None = None) -> dict[str, Any]:
    return {
        "answers": dict(answers or {}),
        "session": status.session.isoformat(),
        "email": status.message,
        "kind": status.kind,
        "deadline": status.deadline.isoformat(),
        "counts": status.counts,
        "errors": [
            {"state": state, "reason": reason, "count": count}
            for state, reason, count in status.errors
        ],
        "next_retry": status.next_retry.isoformat() if status.next_retry else None,
    }


def plan_record(row: PlannedJob, zone: dt.tzinfo) -> dict[str, Any]:
    """A row of `mailer plan --json`."""
    job = row.job
    return {
        "session": job.occurrence.scheduled.isoformat(),
        "number": job.occurrence.number,
        "email": job.message,
        "kind": job.kind,
        "segments": list(job.segments),
        "due": job.due.astimezone(zone).isoformat(),
        "due_utc": job.due.isoformat().replace("+00:00", "Z"),
        "deadline_utc": job.deadline.isoformat().replace("+00:00", "Z"),
        "status": row.state,
        "recipients": row.recipients,
        "counts": row.counts,
        "blocked_by": row.problem,
        "left_out": row.left_out,
    }


def plan_table(rows: Sequence[PlannedJob], zone: dt.tzinfo) -> str:
    """`mailer plan` as a table, with what blocks each job underneath."""
    lines = []
    for row in rows:
        job = row.job
        local = job.due.astimezone(zone)
        to = (
            ", ".join(job.segments)
            if job.segments
            else ("the organiser" if job.kind == "warning" else "those already served")
        )
        lines.append(
            [
                f"{local:%a %Y-%m-%d %H:%M %Z}",
                f"{job.due:%m-%d %H:%M}Z",
                job.occurrence.scheduled.isoformat(),
                job.message,
                to,
                "-" if row.recipients is None else row.recipients,
                row.state,
            ]
        )
    text = table(["when", "UTC", "session", "email", "to", "people", "status"], lines)
    for row in rows:
        if row.problem:
            text += f"\n  {row.job.occurrence.scheduled} {row.job.message}: {row.problem}"
        if row.left_out:
            why = ", ".join(f"{n} {reason}" for reason, n in sorted(row.left_out.items()))
            text += f"\n  {row.job.occurrence.scheduled} {row.job.message}: left out: {why}"
    return text


def problem_record(problem: Problem) -> dict[str, Any]:
    """A problem in `--json` output: where, what, and how to fix it."""
    return {
        "severity": problem.severity,
        "source": problem.source,
        "line": problem.line,
        "key": problem.key,
        "message": problem.message,
        "hint": problem.hint,
        "text": str(problem),
    }


def send_plan_record(plan: SendPlan, transport: str, now: dt.datetime) -> dict[str, Any]:
    """The plan of `mailer send --json`: the same facts as its text."""
    return {
        "session": plan.key.session.isoformat(),
        "number": plan.occurrence.number,
        "kind": plan.kind,
        "message": plan.key.message,
        "segments": list(plan.segments),
        "people": plan.people,
        "languages": dict(sorted(plan.resolution.per_language.items())),
        "suppressed": plan.resolution.suppressed,
        "organizer_left_out": bool(plan.resolution.organizer),
        "already": {state: n for state, n in sorted(plan.existing.items()) if n},
        "not_theirs": plan.not_theirs,
        "to_send": plan.to_send,
        "new": plan.new,
        "transport": transport,
        "deadline": plan.deadline.astimezone(dt.UTC).isoformat(),
        "too_late": plan.too_late(now),
        "problems": [problem_record(p) for p in plan.problems],
    }


def tally_record(tally: Tally) -> dict[str, Any]:
    """What one run of `mailer send --json` did."""
    return {
        "sent": tally.sent,
        "failed": tally.failed,
        "retrying": tally.retrying,
        "unknown": tally.unknown,
        "skipped": tally.skipped,
        "seconds": round(tally.elapsed(), 3),
    }
