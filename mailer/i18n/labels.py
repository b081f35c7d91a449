"""The few words mailer writes itself, per language (calendar descriptions, date lines, links).

Emails are written in templates/, one per language; these labels serve the parts generated in
code: the .ics DESCRIPTION and SUMMARY, time-zone names, "add to calendar" texts. A series in a
language not listed here gives the labels in `[labels.LANG]` of config.toml (`mailer check` says
which are missing); a listed language may override some of them there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Labels:
    session: str
    questions: str
    speakers: str
    moderator: str
    join: str
    meeting_id: str
    passcode: str
    to_be_confirmed: str
    cancelled: str
    moved: str
    held_in: str
    zone: str  # "{city}" is replaced by the zone's city, in this language
    alarm: str
    locale: str = ""  # the Babel locale of dates and times (`en_GB`); empty: the language's
    date_pattern: str = ""  # a Babel/CLDR pattern for full dates; empty: the locale's own
    short_date_pattern: str = ""  # for subjects (`EEE d MMM`); empty: the locale's own
    time_pattern: str = ""  # a Babel/CLDR pattern for clock times; empty: the locale's own
    whole_hour_pattern: str = ""  # for a time on the hour (French: `13 h`, not `13 h 00`)
    colon: str = ":"  # French sets a no-break space before it
    quote_open: str = "“"
    quote_close: str = "”"
    proof: str = "PROOF"  # the subject's marker of a proof (`mailer send --to`)
    proof_note: str = (  # "{segments}" and "{count}": who the real send goes to
        "This is a proof: it is recorded nowhere and nobody else got it. "
        "The real send goes to {segments} (recipients: {count})."
    )
    proof_served: str = "everyone already sent an email about this session"

    def quoted(self, text: str) -> str:
        """`« text »` in French, `“text”` in English."""
        return f"{self.quote_open}{text}{self.quote_close}"

    def heading(self, label: str) -> str:
        """A label followed by a colon: `Questions :` in French, `Questions:` in English."""
        return f"{label}{self.colon}"


LABEL_KEYS = tuple(field.name for field in dataclasses.fields(Labels))
REQUIRED_LABEL_KEYS = tuple(
    field.name for field in dataclasses.fields(Labels) if field.default is dataclasses.MISSING
)

BUILT_IN: Mapping[str, Labels] = {
    "fr": Labels(
        session="Séance",
        questions="Questions",
        speakers="Intervenants",
        moderator="Modération",
        join="Rejoindre la réunion Zoom",
        meeting_id="ID de réunion",
        passcode="Code secret",
        to_be_confirmed="sous réserve",
        cancelled="ANNULÉE",
        moved="Nouvelle date",
        held_in="Langues",
        zone="heure de {city}",
        alarm="La séance commence bientôt",
        time_pattern="H\u00a0'h'\u00a0mm",
        whole_hour_pattern="H\u00a0'h'",
        colon="\u00a0:",
        quote_open="«\u00a0",
        quote_close="\u00a0»",
        proof="ÉPREUVE",
        proof_note=(
            "Ceci est une épreuve : elle n’est enregistrée nulle part et personne d’autre ne l’a "
            "reçue. Le vrai envoi ira à {segments} (nombre de destinataires : {count})."
        ),
        proof_served="toutes les personnes qui ont déjà reçu un courriel sur cette séance",
    ),
    "en": Labels(
        session="Session",
        questions="Questions",
        speakers="Speakers",
        moderator="Moderator",
        join="Join the Zoom meeting",
        meeting_id="Meeting ID",
        passcode="Passcode",
        to_be_confirmed="to be confirmed",
        cancelled="CANCELLED",
        moved="New date",
        held_in="Languages",
        zone="{city} time",
        alarm="The session starts soon",
    ),
    "es": Labels(
        session="Sesión",
        questions="Preguntas",
        speakers="Ponentes",
        moderator="Moderación",
        join="Unirse a la reunión de Zoom",
        meeting_id="ID de reunión",
        passcode="Código de acceso",
        to_be_confirmed="por confirmar",
        cancelled="CANCELADA",
        moved="Nueva fecha",
        held_in="Idiomas",
        zone="hora de {city}",
        alarm="La sesión empieza pronto",
        date_pattern="EEEE d 'de' MMMM 'de' y",  # no comma: «el martes 20 de abril»
        short_date_pattern="EEE d MMM",
        time_pattern="H:mm",
        quote_open="«",
        quote_close="»",
        proof="PRUEBA",
        proof_note=(
            "Esto es una prueba: no queda registrada y nadie más la ha recibido. El envío real "
            "irá a {segments} (destinatarios: {count})."
        ),
        proof_served="todas las personas que ya recibieron un correo sobre esta sesión",
    ),
    "de": Labels(
        session="Sitzung",
        questions="Fragen",
        speakers="Referierende",
        moderator="Moderation",
        join="Am Zoom-Meeting teilnehmen",
        meeting_id="Meeting-ID",
        passcode="Kenncode",
        to_be_confirmed="unter Vorbehalt",
        cancelled="ABGESAGT",
        moved="Neuer Termin",
        held_in="Sprachen",
        zone="Zeit in {city}",
        alarm="Die Sitzung beginnt bald",
        quote_open="„",
        quote_close="“",
        proof="PROBE",
        proof_note=(
            "Dies ist eine Probe: Sie wird nirgends vermerkt, und niemand sonst hat sie erhalten."
            " Der echte Versand geht an {segments} (Empfänger: {count})."
        ),
        proof_served="alle, die zu dieser Sitzung schon eine E-Mail erhalten haben",
    ),
    "it": Labels(
        session="Sessione",
        questions="Domande",
        speakers="Relatori",
        moderator="Moderazione",
        join="Partecipa alla riunione Zoom",
        meeting_id="ID riunione",
        passcode="Passcode",
        to_be_confirmed="da confermare",
        cancelled="ANNULLATA",
        moved="Nuova data",
        held_in="Lingue",
        zone="ora di {city}",
        alarm="La sessione inizia a breve",
        quote_open="«",
        quote_close="»",
        proof="PROVA",
        proof_note=(
            "Questa è una prova: non viene registrata e nessun altro l’ha ricevuta. L’invio vero "
            "andrà a {segments} (destinatari: {count})."
        ),
        proof_served="tutte le persone che hanno già ricevuto un’email su questa sessione",
    ),
    "pt": Labels(
        session="Sessão",
        questions="Perguntas",
        speakers="Oradores",
        moderator="Moderação",
        join="Entrar na reunião Zoom",
        meeting_id="ID da reunião",
        passcode="Senha",
        to_be_confirmed="a confirmar",
        cancelled="CANCELADA",
        moved="Nova data",
        held_in="Idiomas",
        zone="hora de {city}",
        alarm="A sessão começa em breve",
        quote_open="«",
        quote_close="»",
        proof="PROVA",
        proof_note=(
            "Isto é uma prova: não fica registada e mais ninguém a recebeu. O envio real irá para"
            " {segments} (destinatários: {count})."
        ),
        proof_served="todas as pessoas que já receberam um email sobre esta sessão",
    ),
}


def base_language(language: str) -> str:
    """`pt-BR` -> `pt`."""
    return language.replace("_", "-").split("-", 1)[0].lower()


def built_in_labels(language: str) -> Labels | None:
    """The labels mailer knows for `language` (or its base language), if any."""
    return BUILT_IN.get(language) or BUILT_IN.get(base_language(language))


def labels_with(language: str, overrides: Mapping[str, str]) -> Labels | None:
    """Built-in labels of `language` with `overrides` applied; None if some remain missing."""
    base = built_in_labels(language)
    if base is None:
        if not all(key in overrides for key in REQUIRED_LABEL_KEYS):
            return None
        return Labels(**{key: overrides[key] for key in LABEL_KEYS if key in overrides})
    return dataclasses.replace(base, **dict(overrides))
