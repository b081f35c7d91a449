// Parse .ics files with ical.js (the parser of Thunderbird and Nextcloud) and print what it
// understood, as JSON: every event with its UTC start and end, and the expansion of recurring
// events (exceptions and EXDATEs applied) up to an instant.
//
// Time zones come only from the files' own VTIMEZONE components: ical.js ships no zone data, and
// the tests run it with TZ=UTC, so a VTIMEZONE that is missing or wrong shows as a wrong instant.
//
// usage: node icaljs_dump.mjs [--until=ISO] FILE.ics [FILE.ics...]
// One file: an object. Several: a list of objects, in order.
import ICAL from "ical.js";
import { readFileSync } from "node:fs";

const args = process.argv.slice(2);
const untilArg = args.find((a) => a.startsWith("--until=")) || "";
const expandUntil = untilArg.slice("--until=".length);
const files = args.filter((a) => !a.startsWith("--until="));
const iso = (time) => time.toJSDate().toISOString();

function describe(event) {
  return {
    uid: event.uid,
    recurrenceId: event.recurrenceId ? iso(event.recurrenceId) : null,
    start: iso(event.startDate),
    end: iso(event.endDate),
    tzid: event.startDate.zone ? event.startDate.zone.tzid : null,
    summary: event.summary,
    description: event.description,
    location: event.location,
    sequence: event.sequence,
    status: event.component.getFirstPropertyValue("status"),
    organizer: event.organizer,
    attendees: event.attendees.map((a) => ({
      value: a.getFirstValue(),
      cn: a.getParameter("cn") || null,
      rsvp: a.getParameter("rsvp") ? a.getParameter("rsvp") === "TRUE" : null,
    })),
    alarms: event.component.getAllSubcomponents("valarm").length,
  };
}

function expand(events, limit) {
  const occurrences = [];
  for (const master of events.filter((e) => e.isRecurring() && !e.isRecurrenceException())) {
    for (const exception of events) {
      if (exception.isRecurrenceException() && exception.uid === master.uid) {
        master.relateException(exception);
      }
    }
    const iterator = master.iterator();
    for (let next = iterator.next(); next; next = iterator.next()) {
      const details = master.getOccurrenceDetails(next);
      if (details.startDate.toJSDate() > limit && next.toJSDate() > limit) break;
      occurrences.push({
        recurrenceId: iso(details.recurrenceId),
        start: iso(details.startDate),
        end: iso(details.endDate),
        summary: details.item.summary,
        status: details.item.component.getFirstPropertyValue("status"),
      });
    }
  }
  return occurrences;
}

function dump(file) {
  ICAL.TimezoneService.reset(); // each file with its own VTIMEZONEs only
  const root = new ICAL.Component(ICAL.parse(readFileSync(file, "utf8")));
  for (const vtimezone of root.getAllSubcomponents("vtimezone")) {
    ICAL.TimezoneService.register(vtimezone);
  }
  const events = root.getAllSubcomponents("vevent").map((c) => new ICAL.Event(c));
  return {
    method: root.getFirstPropertyValue("method"),
    names: Object.fromEntries(
      ["name", "x-wr-calname"]
        .filter((n) => root.hasProperty(n))
        .map((n) => [n.toUpperCase(), root.getFirstPropertyValue(n)]),
    ),
    timezones: root.getAllSubcomponents("vtimezone").map((tz) => tz.getFirstPropertyValue("tzid")),
    events: events.map(describe),
    occurrences: expandUntil ? expand(events, new Date(expandUntil)) : [],
  };
}

const results = files.map(dump);
process.stdout.write(JSON.stringify(files.length === 1 ? results[0] : results));
