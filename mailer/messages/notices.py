"""Notices the daemon emails the organiser, in the series' first language (plain text): a
session file is missing, an email is blocked or was missed, a send failed or stopped, an edit
of the configuration was refused, the mailbox brought bounces or unsubscribes. Pure: the
daemon decides when, and sends each once."""

from __future__ import annotations

import datetime as dt
import email.policy
import email.utils
import hashlib
from email.headerregistry import Address
from email.message import EmailMessage

from mailer.config.settings import Config
from mailer.i18n.dates import clock_time, long_date, zone_name
from mailer.messages.mime import organiser_domain
from mailer.model import Outgoing

NoticeTexts = dict[str, tuple[str, str]]  # problem -> (subject, body), str.format fields

TEXTS: dict[str, NoticeTexts] = {
    "en": {
        "missing_file": (
            "Session {number} ({session}) has no file yet",
            'Session {number} of "{series}", on {start}, has no session file.\n\n'
            "Its invitation is due on {due}. Without the file it will not be sent: mailer never "
            "sends emails with blanks.\n\nCreate {path} (title, questions, speakers, moderator, "
            "in every language), then run `mailer check`. The daemon picks it up by itself.\n",
        ),
        "blocked": (
            "The {kind} of {session} is blocked",
            "The {kind} of session {number} ({session}) is due but is not being sent:\n\n"
            "    {detail}\n\nFix it and it goes out by itself (`mailer plan` shows what "
            "blocks it).\n",
        ),
        "missed": (
            "The {kind} of {session} was missed",
            "The {kind} of session {number} ({session}) could not go out in time:\n\n"
            "    {detail}\n\n`mailer status {session}` says who was not served.\n",
        ),
        "failed": (
            "The {kind} of {session} failed",
            "The daemon could not send the {kind} of session {number} ({session}):\n\n"
            "    {detail}\n\nIt tries again at the next round; `mailer status {session}` and "
            "the log say more.\n",
        ),
        "bounced": (
            "Addresses suppressed after bounces or unsubscribes: {count}",
            "Reading the mailbox, mailer stopped mailing these addresses:\n\n{detail}\n\n"
            "`mailer suppressed` lists every suppression with its reason; `mailer person "
            "ADDRESS` shows one person's history.\n",
        ),
        "refused": (
            "An edit of the configuration was refused",
            "The daemon refused the new configuration and runs on with the one before it:\n\n"
            "{detail}\n\nFix the files (`mailer check` lists every problem); the daemon "
            "reloads by itself once they pass.\n",
        ),
        "lifted": (
            "{address} receives the emails again",
            "{address} had been suppressed after a bounce:\n\n    {detail}\n\nThey opened "
            "their own signed link (the unsubscribe page of an email we sent them) and asked to "
            "receive everything again, so their address works: it is mailed again from now "
            "on. `mailer person {address}` shows their history; `mailer suppress {address}` "
            "stops it again.\n",
        ),
    },
    "fr": {
        "missing_file": (
            "La séance {number} ({session}) n’a pas encore de fichier",
            "La séance {number} de « {series} », le {start}, n’a pas de fichier de séance.\n\n"
            "Son invitation part le {due}. Sans le fichier, elle ne partira pas : mailer "
            "n’envoie jamais de message à trous.\n\nCréez {path} (titre, questions, "
            "intervenants, modération, dans chaque langue), puis lancez `mailer check`. Le "
            "démon le prend en compte de lui-même.\n",
        ),
        "blocked": (
            "L’envoi « {kind} » du {session} est bloqué",
            "L’envoi « {kind} » de la séance {number} ({session}) est dû mais ne part pas :\n\n"
            "    {detail}\n\nUne fois corrigé, il part de lui-même (`mailer plan` montre ce "
            "qui le bloque).\n",
        ),
        "missed": (
            "L’envoi « {kind} » du {session} n’a pas pu partir à temps",
            "L’envoi « {kind} » de la séance {number} ({session}) n’a pas pu partir à "
            "temps :\n\n    {detail}\n\n`mailer status {session}` indique qui ne l’a pas "
            "reçu.\n",
        ),
        "failed": (
            "L’envoi « {kind} » du {session} a échoué",
            "Le démon n’a pas pu envoyer « {kind} » de la séance {number} ({session}) :\n\n"
            "    {detail}\n\nIl réessaie au prochain passage ; `mailer status {session}` et "
            "le journal en disent plus.\n",
        ),
        "bounced": (
            "Adresses retirées après des retours ou des désinscriptions : {count}",
            "En lisant la boîte aux lettres, mailer a cessé d’écrire à ces adresses :\n\n"
            "{detail}\n\n`mailer suppressed` liste chaque adresse retirée et pourquoi ; "
            "`mailer person ADRESSE` montre l’historique d’une personne.\n",
        ),
        "refused": (
            "Une modification de la configuration a été refusée",
            "Le démon a refusé la nouvelle configuration et continue avec la précédente :\n\n"
            "{detail}\n\nCorrigez les fichiers (`mailer check` liste chaque problème) ; le "
            "démon recharge de lui-même dès qu’ils sont valides.\n",
        ),
        "lifted": (
            "{address} reçoit de nouveau les messages",
            "{address} avait été retirée après un retour en erreur :\n\n    {detail}\n\n"
            "La personne a ouvert son propre lien signé (la page de désinscription d’un "
            "message que nous lui avons envoyé) et demandé à tout recevoir de nouveau : son "
            "adresse fonctionne donc, et elle reçoit de nouveau les messages. `mailer person "
            "{address}` montre son historique ; `mailer suppress {address}` l’arrête de "
            "nouveau.\n",
        ),
    },
    "es": {
        "missing_file": (
            "La sesión {number} ({session}) aún no tiene archivo",
            "La sesión {number} de «{series}», el {start}, no tiene archivo de sesión.\n\n"
            "Su invitación sale el {due}. Sin el archivo no saldrá: mailer nunca envía "
            "mensajes con huecos.\n\nCree {path} (título, preguntas, ponentes, moderación, en "
            "cada idioma) y ejecute `mailer check`. El demonio lo detecta por sí mismo.\n",
        ),
        "blocked": (
            "El envío «{kind}» del {session} está bloqueado",
            "El envío «{kind}» de la sesión {number} ({session}) debe salir pero no sale:\n\n"
            "    {detail}\n\nUna vez corregido, sale por sí mismo (`mailer plan` muestra qué lo "
            "bloquea).\n",
        ),
        "missed": (
            "El envío «{kind}» del {session} no salió a tiempo",
            "El envío «{kind}» de la sesión {number} ({session}) no pudo salir a tiempo:\n\n"
            "    {detail}\n\n`mailer status {session}` indica quién no lo recibió.\n",
        ),
        "failed": (
            "El envío «{kind}» del {session} ha fallado",
            "El demonio no pudo enviar «{kind}» de la sesión {number} ({session}):\n\n"
            "    {detail}\n\nVuelve a intentarlo en la próxima ronda; `mailer status "
            "{session}` y el registro dan más detalles.\n",
        ),
        "bounced": (
            "Direcciones retiradas tras rebotes o bajas: {count}",
            "Al leer el buzón, mailer dejó de escribir a estas direcciones:\n\n{detail}\n\n"
            "`mailer suppressed` enumera cada dirección retirada y el motivo; `mailer person "
            "DIRECCIÓN` muestra el historial de una persona.\n",
        ),
        "refused": (
            "Se ha rechazado una modificación de la configuración",
            "El demonio rechazó la nueva configuración y sigue con la anterior:\n\n{detail}\n\n"
            "Corrija los archivos (`mailer check` enumera cada problema); el demonio recarga "
            "por sí mismo cuando sean válidos.\n",
        ),
        "lifted": (
            "{address} vuelve a recibir los mensajes",
            "{address} se había retirado tras un rebote:\n\n    {detail}\n\nLa persona "
            "abrió su propio enlace firmado (la página de baja de un mensaje que le enviamos) y "
            "pidió recibirlo todo de nuevo: su dirección funciona, y vuelve a recibir los "
            "mensajes. `mailer person {address}` muestra su historial; `mailer suppress "
            "{address}` lo detiene de nuevo.\n",
        ),
    },
}
PROBLEMS = tuple(TEXTS["en"])
KIND_NAMES: dict[str, dict[str, str]] = {  # the kinds of email, as each language names them
    "en": {"followup": "follow-up"},
    "fr": {
        "invitation": "invitation",
        "reminder": "rappel",
        "update": "mise à jour",
        "cancellation": "annulation",
        "followup": "message de suivi",
    },
    "es": {
        "invitation": "invitación",
        "reminder": "recordatorio",
        "update": "actualización",
        "cancellation": "cancelación",
        "followup": "mensaje de seguimiento",
    },
}


def notice_language(config: Config) -> str:
    """The series' first language, if mailer has notices in it (English otherwise)."""
    first = config.series.default_language
    return first if first in TEXTS else "en"


def organiser_notice(
    config: Config, key: str, problem: str, now: dt.datetime, **fields: object
) -> Outgoing:
    """The notice `problem` (one of PROBLEMS) to the organiser; `key` names the problem, so
    that its Message-ID is the same however often it is composed."""
    language = notice_language(config)
    subject, body = TEXTS[language][problem]
    values = {"series": config.series.title[config.series.default_language], **fields}
    labels = config.labels[language]
    if isinstance(kind := values.get("kind"), str):
        values["kind"] = KIND_NAMES[language].get(kind, kind)
    for name in ("start", "due"):
        if isinstance(moment := values.get(name), dt.datetime):
            local = moment.astimezone(config.series.timezone)
            values[name] = (
                f"{long_date(local.date(), language, labels)}, "
                f"{clock_time(local, language, labels)} "
                f"({zone_name(config.series.timezone, language, labels)})"
            )
    to = config.daemon.warn_to or config.organiser.email
    domain = organiser_domain(config)
    digest = hashlib.sha256(f"{config.series.id}\0{key}".encode()).hexdigest()[:24]
    notice = EmailMessage(policy=email.policy.SMTP)
    notice["From"] = Address(f"mailer ({config.organiser.name})", addr_spec=config.organiser.email)
    notice["To"] = to
    notice["Subject"] = "[mailer] " + subject.format(**values)
    notice["Date"] = email.utils.format_datetime(now.astimezone(dt.UTC))
    notice["Message-ID"] = f"<notice.{digest}@{domain}>"
    notice["Auto-Submitted"] = "auto-generated"
    notice.set_content(body.format(**values))
    notice["Content-Language"] = language  # after set_content, which replaces Content-*
    return Outgoing(
        str(notice["Message-ID"]),
        config.organiser.email,
        to,
        notice.as_bytes(policy=email.policy.SMTP),
        smtputf8=not to.isascii(),
    )
