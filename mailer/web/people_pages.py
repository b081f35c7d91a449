"""The organisers' people pages: everyone (found, filtered, a page at a time), one person
(her lists, history, consent evidence; suppress, mail again, export, erase), and the lists
kept in the state (add or edit a person, remove her, upload a CSV file: a preview of its
columns and of every change, then exactly that written). Every change is in the audit log.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlencode

from aiohttp import web

from mailer.actions.directory import (
    ANSWERS,
    STATUSES,
    Directory,
    Filters,
    apply_list_upload,
    directory,
    kept_list,
    plan_list_upload,
)
from mailer.actions.people import PersonReport, erase_person, person, person_record
from mailer.audience.addresses import Address, parse_address
from mailer.audience.recipients import LanguageMatcher, read_tags, valid_zone
from mailer.audience.signup import MAX_NAME
from mailer.audience.upload import MAX_UPLOAD
from mailer.errors import InvalidAddress, InvalidInput
from mailer.store.members import Entry, members, put_members, remove_member
from mailer.store.suppression import erased_key, suppress, unsuppress
from mailer.web.render import page, refusal
from mailer.web.site import PER_PAGE, Site, organiser_of, redirect

NOT_UTF8 = "The file is not UTF-8: save it as CSV UTF-8 and upload it again."
FILTERS = ("q", "list", "segment", "language", "tag", "status", "answer")


def _address(site: Site, text: str) -> Address:
    config = site.project().config
    return parse_address(text[:320], case_sensitive_local=config.mailing.case_sensitive_local)


def add_people_routes(app: web.Application, site: Site) -> None:
    async def people(request: web.Request) -> web.Response:
        project = site.project()
        config = project.config
        asked = {name: request.query.get(name, "").strip()[:320] for name in FILTERS}
        filters = Filters(
            asked["q"],
            asked["list"],
            asked["segment"],
            asked["language"],
            asked["tag"],
            asked["status"],
            asked["answer"],
        )
        try:
            number = max(int(request.query.get("page", "1")), 1)
        except ValueError:
            number = 1
        _ = site.words()

        def find() -> Directory:  # in a thread: it reads every list
            with site.current().state() as state:
                return directory(
                    project,
                    state,
                    filters,
                    now=site.now(),
                    offset=(number - 1) * PER_PAGE,
                    limit=PER_PAGE,
                )

        try:
            found = await asyncio.to_thread(find)
        except InvalidInput as error:
            return refusal(organiser_of(request), _, 400, str(error))
        exact = [p for p in found.people if p.email.casefold() == filters.text.casefold()]
        if found.total == 1 and exact:  # an address typed whole: her page
            return redirect("/people/person?" + urlencode({"address": exact[0].email}))
        shown = {k: v for k, v in asked.items() if v}
        return page(
            "people.html",
            organiser_of(request),
            _,
            title=_("People"),
            asked=asked,
            found=found,
            number=number,
            pages=max((found.total + PER_PAGE - 1) // PER_PAGE, 1),
            query=lambda n: urlencode({**shown, "page": n}),
            lists=config.mailing.list_names,
            kept=[m.name for m in config.mailing.lists if m.kept],
            segments=[s.name for s in config.mailing.segments],
            languages=config.series.languages,
            statuses=STATUSES,
            answers=ANSWERS,
        )

    async def one(request: web.Request) -> web.Response:
        project = site.project()
        _ = site.words()
        try:
            address = _address(site, request.query.get("address", ""))
        except InvalidAddress as error:
            return refusal(organiser_of(request), _, 400, str(error))

        def look() -> PersonReport:  # in a thread: it reads every list
            with site.current().state() as state:
                return person(project, state, address, site.now())

        report = await asyncio.to_thread(look)
        config = project.config
        return page(
            "person.html",
            organiser_of(request),
            _,
            title=address.email,
            report=report,
            kept=[m.name for m in config.mailing.lists if m.kept],
            languages=config.series.languages,
            zone=config.series.timezone,
            done=request.query.get("done", ""),
        )

    async def act(request: web.Request) -> web.StreamResponse:
        """suppress, unsuppress, export, erase: one person, each asked to confirm (a box)."""
        project = site.project()
        who = organiser_of(request)
        _ = site.words()
        form = await request.post()
        action = request.match_info["action"]
        try:
            address = _address(site, str(form.get("address", "")))
        except InvalidAddress as error:
            return refusal(who, _, 400, str(error))
        now = site.now()
        back = "/people/person?" + urlencode({"address": address.email, "done": action})
        if form.get("confirm") != "1":  # every action on a person is asked to confirm
            return refusal(who, _, 400, "Tick the box to confirm.")
        with site.current().state() as state:
            if action == "suppress":
                reason = " ".join(str(form.get("reason", "")).split())[:200] or "removed by hand"
                suppress(state, address, "manual", f"{reason} ({who.email})", now)
                detail = reason
            elif action == "unsuppress":
                unsuppress(state, address.key)
                detail = ""
            elif action == "export":
                report = person_record(person(project, state, address, now))
                detail = "downloaded"
            else:
                erased = erase_person(project, state, address, now)
                detail = f"{erased.erased.deliveries} delivery rows"
                back = "/people?" + urlencode({"erased": "1"})
        subject = erased_key(address.key)[:23] if action == "erase" else address.key
        site.audit(who.email, f"person {action}", subject, detail)
        if action == "export":
            name = f"person-{address.key.replace('@', '-at-')}.json"
            return web.Response(
                text=json.dumps(report, ensure_ascii=False, indent=2),
                content_type="application/json",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        return redirect(back)

    async def kept(request: web.Request) -> web.Response:
        project = site.project()
        _ = site.words()
        try:
            name = kept_list(project, request.match_info["name"])
        except InvalidInput as error:
            return refusal(organiser_of(request), _, 404, str(error))
        with site.current().state() as state:
            people = list(members(state, name))
        return page(
            "kept_list.html",
            organiser_of(request),
            _,
            title=_("The list {name}").format(name=name),
            name=name,
            people=people,
            languages=project.config.series.languages,
            zone=project.config.series.timezone,
            done=request.query.get("done", ""),
        )

    async def change(request: web.Request) -> web.Response:
        """Add or edit a person of a kept list, or remove her from it."""
        project = site.project()
        config = project.config
        who = organiser_of(request)
        _ = site.words()
        try:
            name = kept_list(project, request.match_info["name"])
        except InvalidInput as error:
            return refusal(who, _, 404, str(error))
        form = await request.post()
        try:
            address = _address(site, str(form.get("email", "")))
        except InvalidAddress as error:
            return refusal(who, _, 400, str(error))
        with site.current().state() as state:
            if request.match_info["change"] == "remove":
                removed = remove_member(state, name, address.key)
                detail, done = ("removed" if removed else "was not on it"), "removed"
            else:
                language = (
                    LanguageMatcher(config.series.languages).match(str(form.get("language", "")))
                    or config.series.default_language
                )
                zone = str(form.get("timezone", "")).strip()
                entry = Entry(
                    address,
                    " ".join(str(form.get("name", "")).split())[:MAX_NAME],
                    language,
                    zone if zone and valid_zone(zone) else None,
                    read_tags(str(form.get("tags", ""))),
                )
                added, _updated = put_members(
                    state, name, [entry], origin="organiser", by=who.email, now=site.now()
                )
                detail = f"{'added' if added else 'edited'}: {entry.name}, {language}"
                done = "added" if added else "edited"
        action = {"added": "list add", "edited": "list edit", "removed": "list remove"}[done]
        site.audit(who.email, action, f"{name}: {address.key}", detail)
        return redirect(f"/lists/{name}?" + urlencode({"done": done}))

    async def upload(request: web.Request) -> web.Response:
        """A CSV file: its preview; with `apply` and the preview's digest, written."""
        project = site.project()
        who = organiser_of(request)
        _ = site.words()
        try:
            name = kept_list(project, request.match_info["name"])
        except InvalidInput as error:
            return refusal(who, _, 404, str(error))
        form = await request.post()
        sent = form.get("file")
        if isinstance(sent, web.FileField):
            raw = sent.file.read(MAX_UPLOAD + 1)
            filename = str(sent.filename or "upload.csv")[:100]
        else:
            raw = str(form.get("text", "")).encode("utf-8")
            filename = str(form.get("filename", "upload.csv"))[:100]
        if len(raw) > MAX_UPLOAD:
            return refusal(who, _, 400, "The file is too large (5 MB at most).")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return refusal(who, _, 400, NOT_UTF8)
        with site.current().state() as state:
            if form.get("apply") == "1":
                plan, written = apply_list_upload(
                    project,
                    state,
                    name,
                    text,
                    filename,
                    digest=str(form.get("digest", "")),
                    by=who.email,
                    now=site.now(),
                )
            else:
                plan, written = plan_list_upload(project, state, name, text, filename), False
        if written:
            site.audit(
                who.email,
                "list upload",
                f"{name}: {filename}",
                f"upload: {plan.count('added')} added, {plan.count('updated')} updated",
            )
            return redirect(f"/lists/{name}?" + urlencode({"done": "uploaded"}))
        return page(
            "upload.html",
            organiser_of(request),
            _,
            title=_("Upload into {name}: what would change").format(name=name),
            name=name,
            plan=plan,
            text=text,
            filename=filename,
            changed=form.get("apply") == "1",  # the list changed since the preview
        )

    app.router.add_get("/people", people)
    app.router.add_get("/people/person", one)
    app.router.add_post(r"/people/person/{action:suppress|unsuppress|export|erase}", act)
    app.router.add_get(r"/lists/{name}", kept)
    app.router.add_post(r"/lists/{name}/{change:add|remove}", change)
    app.router.add_post(r"/lists/{name}/upload", upload)
