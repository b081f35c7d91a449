"""The words of the organisers' pages, in English (the keys) and French (`[web] language`).

A page says `_("...")`; a text with values in it is formatted after translation
(`_("{n} people").format(n=...)`), so the values are escaped like any other. What mailer check
and the sending engine say (a problem's message, a relay's reply) stays as they say it.
"""

from __future__ import annotations

from collections.abc import Callable

from mailer.web import email_words, people_words

Words = Callable[[str], str]
LANGUAGES = ("en", "fr")

FRENCH: dict[str, str] = {
    # the layout, logging in
    "en": "fr",  # the pages' <html lang>
    "Series": "Série",
    "What was sent": "Envois",
    "People": "Personnes",
    "Who did what": "Journal",
    "Skip to the content": "Aller au contenu",
    "Log out": "Se déconnecter",
    "Log in": "Connexion",
    "Email address": "Adresse e-mail",
    "Password": "Mot de passe",
    "Wrong email address or password.": "Adresse e-mail ou mot de passe incorrect.",
    "Too many attempts: try again in {minutes} minutes.": (
        "Trop de tentatives : réessayez dans {minutes} minutes."
    ),
    "Too many attempts: try again in {seconds} seconds.": (
        "Trop de tentatives : réessayez dans {seconds} secondes."
    ),
    "Too many logins at once: try again in a moment.": (
        "Trop de connexions en même temps : réessayez dans un instant."
    ),
    "This form has expired or did not come from these pages: go back, reload the page, and "
    "try again.": (
        "Ce formulaire a expiré ou ne vient pas de ces pages : revenez en arrière, rechargez "
        "la page et recommencez."
    ),
    "You are not logged in (or your session ended).": (
        "Vous n’êtes pas connecté(e) (ou votre session a pris fin)."
    ),
    "There is no such page.": "Cette page n’existe pas.",
    "Something went wrong on our side.": "Une erreur s’est produite de notre côté.",
    "The organisers' pages are off ([web] is not set).": (
        "Les pages des organisateurs sont désactivées ([web] n’est pas défini)."
    ),
    "Back to the series": "Retour à la série",
    "Bad request": "Requête invalide",
    "Refused": "Refusé",
    "Not found": "Introuvable",
    "Conflict": "Conflit",
    "Error": "Erreur",
    # the series
    "The series": "La série",
    "Session {number} ({day}): its text changed since the last email; calendars still hold "
    "the older one.": (
        "Séance {number} ({day}) : son texte a changé depuis le dernier message ; les agendas "
        "gardent l’ancien."
    ),
    "Send an update": "Envoyer une mise à jour",
    "the calendar's organizer left out (it cannot be its own attendee)": (
        "l’organisateur de l’agenda laissé de côté (il ne peut être son propre participant)"
    ),
    "Coming sessions": "Prochaines séances",
    "No.": "N°",
    "When ({zone})": "Quand ({zone})",
    "Title": "Titre",
    "Status": "Statut",
    "no session file yet": "pas encore de fichier de séance",
    "scheduled {day}": "prévue le {day}",
    "Prepare": "Préparer",
    "Edit": "Modifier",
    "Preview": "Aperçu",
    "Send": "Envoyer",
    "scheduled": "prévue",
    "moved": "déplacée",
    "cancelled": "annulée",
    "missing content": "contenu manquant",
    "What the daemon will send": "Ce qui partira automatiquement",
    "Session": "Séance",
    "Email": "E-mail",
    "To": "À",
    "State": "État",
    "Recipients": "Destinataires",
    "What blocks it": "Ce qui bloque",
    "the organiser": "l’organisateur",
    "those already emailed": "les personnes déjà écrites",
    "Nothing in the next 60 days.": "Rien dans les 60 prochains jours.",
    "waiting": "en attente",
    "due": "à envoyer",
    "late": "en retard",
    "done": "fait",
    "blocked": "bloqué",
    "The daemon refused the last edit of the files and keeps running on the version before: "
    "{why}": (
        "L’envoi automatique a refusé la dernière modification des fichiers et continue avec "
        "la version précédente : {why}"
    ),
    "The daemon reports: {status}.": "L’envoi automatique signale : {status}.",
    # a session
    "Session {number}, {day}": "Séance {number}, {day}",
    "Preview its emails": "Aperçu de ses e-mails",
    "Saved. The daemon uses the new version now.": (
        "Enregistré. Les envois automatiques suivent désormais la nouvelle version."
    ),
    "Nothing was saved: {count} problem(s), shown at their fields.": (
        "Rien n’a été enregistré : {count} problème(s), indiqué(s) à leur champ."
    ),
    "missing translation": "traduction manquante",
    "Guiding questions (one per line)": "Questions (une par ligne)",
    "Speaker {number}": "Intervenant(e) {number}",
    "New speaker": "Nouvel(le) intervenant(e)",
    "to be confirmed": "à confirmer",
    "Name": "Nom",
    "Role": "Fonction",
    "Moderator": "Modérateur ou modératrice",
    "Note (optional)": "Note (facultative)",
    "A name written in one language only is the same in all. Empty rows are left out; clear a "
    "speaker's fields to remove them.": (
        "Un nom écrit dans une seule langue vaut pour toutes. Les lignes vides sont ignorées ; "
        "videz les champs d’un(e) intervenant(e) pour le retirer."
    ),
    "Status and date": "Statut et date",
    "Moved to": "Déplacée au",
    "from": "de",
    "to": "à",
    'Leave "moved to" empty for the usual date and time ({day}).': (
        "Laissez « déplacée au » vide pour la date et l’heure habituelles ({day})."
    ),
    "Save the session": "Enregistrer la séance",
    "Cancelling this session emails {count} people": (
        "Annuler cette séance envoie un e-mail à {count} personnes"
    ),
    "Moving this session emails {count} people": (
        "Déplacer cette séance envoie un e-mail à {count} personnes"
    ),
    "When you save, the daemon sends the {kind} to everyone already emailed about this session": (
        "À l’enregistrement, {kind} part automatiquement à toutes les personnes déjà écrites "
        "au sujet de cette séance"
    ),
    "[daemon] updates is off: nothing goes by itself; send the {kind} from the Send page to": (
        "[daemon] updates est désactivé : rien ne part tout seul ; envoyez {kind} depuis la "
        "page Envoyer à"
    ),
    "{count} suppressed left out": "{count} exclues (désinscrites ou en erreur)",
    "Who": "Qui",
    "… and {count} more.": "… et {count} autres.",
    "Nothing is saved yet: tick the box, then save the session again.": (
        "Rien n’est encore enregistré : cochez la case, puis enregistrez à nouveau."
    ),
    "Yes, save it and tell them": "Oui, enregistrer et les prévenir",
    "the update": "la mise à jour",
    "the cancellation": "l’annulation",
    "The session file changed since you opened this page (another organiser saved it, or it "
    "was edited on the server). Nothing was saved: your text is below; open the session again "
    "to see the new version, then make your change there.": (
        "Le fichier de la séance a changé depuis l’ouverture de cette page (un autre "
        "organisateur l’a enregistré, ou il a été modifié sur le serveur). Rien n’a été "
        "enregistré : votre texte est ci-dessous ; rouvrez la séance pour voir la nouvelle "
        "version, puis refaites-y votre modification."
    ),
    "This session has no content yet: prepare it first.": (
        "Cette séance n’a pas encore de contenu : préparez-la d’abord."
    ),
    # previews and sending
    "Preview: {kind} of session {number}": "Aperçu : {kind} de la séance {number}",
    "invitation": "invitation",
    "reminder": "rappel",
    "update": "mise à jour",
    "cancellation": "annulation",
    "Proofs sent to {email}:": "Épreuves envoyées à {email} :",
    "Send me a proof of each language ({email})": (
        "M’envoyer une épreuve de chaque langue ({email})"
    ),
    "Prepare a send…": "Préparer un envoi…",
    "As {name} gets it (a sample recipient).": "Tel que {name} le reçoit (destinataire exemple).",
    "Plain text": "Texte brut",
    "Calendar file (.ics)": "Fichier d’agenda (.ics)",
    "Send: session {number}": "Envoi : séance {number}",
    "To (no segment: everyone; for an update or a cancellation, those already emailed)": (
        "À (aucun segment : tout le monde ; pour une mise à jour ou une annulation, les "
        "personnes déjà écrites)"
    ),
    "Show the plan": "Voir le plan",
    "The plan": "Le plan",
    "everyone already emailed about the session": (
        "toutes les personnes déjà écrites au sujet de la séance"
    ),
    "{count} people": "{count} personnes",
    "nobody": "personne",
    "Already in the ledger": "Déjà dans le registre",
    "To send now": "À envoyer maintenant",
    "Deadline": "Date limite",
    "(passed: nothing can be sent)": "(dépassée : rien ne peut partir)",
    "Who (the first {count})": "Qui (les {count} premières personnes)",
    "Yes, send {count} emails now": "Oui, envoyer {count} e-mails maintenant",
    "Nothing to send: everyone in the plan has been served.": (
        "Rien à envoyer : tout le monde dans le plan a été servi."
    ),
    "Tick the box that says you want these emails sent, then send.": (
        "Cochez la case qui confirme l’envoi de ces e-mails, puis envoyez."
    ),
    "Another send is running (the daemon's, or another organiser's): try again in a moment.": (
        "Un autre envoi est en cours (automatique ou d’un autre organisateur) : réessayez "
        "dans un instant."
    ),
    "The form is incomplete: look at the plan again.": (
        "Le formulaire est incomplet : regardez à nouveau le plan."
    ),
    "Sending the {kind} of {day}": "Envoi : {kind} du {day}",
    "Started by {who} at {when}: {count} emails.": "Lancé par {who} le {when} : {count} e-mails.",
    "{sent} sent, {failed} failed, {retrying} to retry, {skipped} skipped, of {count}": (
        "{sent} envoyés, {failed} en échec, {retrying} à réessayer, {skipped} ignorés, sur {count}"
    ),
    "(sending…)": "(envoi en cours…)",
    "Stopped": "Arrêté",
    "Done": "Terminé",
    "In all, for this email:": "Au total, pour cet e-mail :",
    "The daemon tries the {count} others again by itself.": (
        "Les {count} autres seront réessayés automatiquement."
    ),
    "What was sent for this session": "Les envois de cette séance",
    # following up: the ledger's states
    "{count} sent": "{count} envoyé(s)",
    "{count} failed": "{count} en échec",
    "{count} pending": "{count} en attente",
    "{count} retry": "{count} à réessayer",
    "{count} unknown": "{count} au sort inconnu",
    "{count} skipped": "{count} ignoré(s)",
    "{count} sending": "{count} en cours d’envoi",
    "{count} accepted": "{count} accepté(s)",
    "{count} tentative": "{count} peut-être",
    "{count} declined": "{count} refusé(s)",
    "sent": "envoyé",
    "failed": "en échec",
    "pending": "en attente",
    "retry": "à réessayer",
    "unknown": "sort inconnu",
    "skipped": "ignoré",
    "sending": "en cours d’envoi",
    "Emails": "E-mails",
    "Deliveries": "Remises",
    "Commonest errors": "Erreurs les plus fréquentes",
    "Next retry": "Prochain essai",
    "Nothing sent yet.": "Rien n’a encore été envoyé.",
    "Answers": "Réponses",
    "Bounces and unsubscribes ({count} addresses never mailed again)": (
        "Erreurs et désinscriptions ({count} adresses qui ne reçoivent plus rien)"
    ),
    "Since": "Depuis",
    "Address": "Adresse",
    "Why": "Pourquoi",
    "Scope": "Portée",
    "Nobody.": "Personne.",
    "Session {number}: what was sent": "Séance {number} : les envois",
    "Answer": "Réponse",
    "When": "Quand",
    "None.": "Aucune.",
    "Changes and sends by organisers": "Modifications et envois des organisateurs",
    "A person": "Une personne",
    "Find": "Chercher",
    "Never mailed again": "Ne reçoit plus rien",
    "(reminders only)": "(rappels seulement)",
    "On the lists": "Dans les listes",
    "On no list.": "Dans aucune liste.",
    "Segments for the session of {day}: {names}.": "Segments pour la séance du {day} : {names}.",
    "none": "aucun",
    "Sent": "Envoyé",
    "The server's reply": "Réponse du serveur",
    "accepted": "accepté",
    "tentative": "peut-être",
    "declined": "refusé",
    "No email yet.": "Aucun e-mail pour l’instant.",
    "From the mailbox": "De la boîte aux lettres",
    "Nothing.": "Rien.",
    "hard bounce": "erreur définitive",
    "soft bounce": "erreur temporaire",
    "the session of {day}": "la séance du {day}",
    "What": "Quoi",
    "login": "connexion",
    "logout": "déconnexion",
    "save session": "séance enregistrée",
    "proof": "épreuve",
    "send": "envoi",
    "pause": "mise en pause",
    "resume": "reprise",
    "Detail": "Détail",
    "the change": "la modification",
    "Nothing yet.": "Rien pour l’instant.",
    # who is coming
    "Who is coming": "Qui vient",
    "Download the list (CSV)": "Télécharger la liste (CSV)",
    "How": "Comment",
    "Nobody was emailed about this session yet.": (
        "Personne n’a encore reçu d’e-mail sur cette séance."
    ),
    "{count} yes": "{count} oui",
    "{count} maybe": "{count} peut-être",
    "{count} no": "{count} non",
    "{count} waiting": "{count} en liste d’attente",
    "{count} none": "{count} sans réponse",
    "answer:yes": "oui",
    "answer:maybe": "peut-être",
    "answer:no": "non",
    "answer:waiting": "liste d’attente",
    "answer:none": "pas de réponse",
    "via:link": "lien de l’e-mail",
    "via:calendar": "agenda",
    "Recording (link)": "Enregistrement (lien)",
    "Slides (link)": "Présentation (lien)",
    "Survey (link)": "Questionnaire (lien)",
    "Places (empty: no limit)": "Places (vide : sans limite)",
    "After the session": "Après la séance",
    "Left out:": "Laissés de côté :",
    "answered yes": "ont répondu oui",
    "answered maybe": "ont répondu peut-être",
    "answered no": "ont répondu non",
    "answered waiting": "en liste d’attente",
    "answered place": "ont eu une place libérée",
    "no answer": "sans réponse",
    "came": "sont venus",
    "did not come": "ne sont pas venus",
    "no attendance report yet": "sans rapport de présence pour l’instant",
}
# English words for the keys that are not English themselves
ENGLISH: dict[str, str] = {
    "{count} waiting": "{count} on the waiting list",
    "{count} none": "{count} no answer",
    "answer:yes": "yes",
    "answer:maybe": "maybe",
    "answer:no": "no",
    "answer:waiting": "waiting list",
    "answer:none": "no answer",
    "via:link": "the email's link",
    "via:calendar": "calendar",
}
FRENCH.update(people_words.FRENCH)
FRENCH.update(email_words.FRENCH)
ENGLISH.update(people_words.ENGLISH)
CATALOGUES = {"fr": FRENCH, "en": ENGLISH}


def words_for(language: str) -> Words:
    """`_` for the pages in `language` (English for a text not translated)."""
    catalogue = CATALOGUES.get(language, {})
    return lambda text: catalogue.get(text, text)
