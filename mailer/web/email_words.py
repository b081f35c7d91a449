"""French for the names of emails and segments, what the engine says, the dashboard and the
Send page's explanations (merged into `words.FRENCH`)."""

from __future__ import annotations

FRENCH: dict[str, str] = {
    # emails and segments (email_names)
    "Invitation": "Invitation",
    "Reminder": "Rappel",
    "Update": "Mise à jour",
    "Cancellation": "Annulation",
    "Follow-up": "Suivi",
    "Waiting list": "Liste d’attente",
    "A place is free": "Une place se libère",
    "Everyone": "Tout le monde",
    "the day before": "la veille",
    "the day after": "le lendemain",
    "{n} weeks before": "{n} semaines avant",
    "{n} weeks after": "{n} semaines après",
    "{n} days before": "{n} jours avant",
    "{n} days after": "{n} jours après",
    "an hour before": "une heure avant",
    "an hour after": "une heure après",
    "{n} hours before": "{n} heures avant",
    "{n} hours after": "{n} heures après",
    "{n} minutes before": "{n} minutes avant",
    "{n} minutes after": "{n} minutes après",
    "{email} {when}": "{email} {when}",
    "{email} (version {n})": "{email} (version {n})",
    "{email}, for the new date": "{email}, pour la nouvelle date",
    "Warning to the organisers: the session has no file": (
        "Alerte aux organisateurs : la séance n’a pas de contenu"
    ),
    # what the engine says (engine_words)
    "the {language} text is missing": "le texte en {language} manque",
    "Write each text in every language of the series: {languages}.": (
        "Écrivez chaque texte dans toutes les langues de la série : {languages}."
    ),
    "its content is not written yet ({path})": "son contenu n’est pas encore écrit ({path})",
    "waits for the link of the {what} (on the session's page)": (
        "attend le lien de {what} (sur la page de la séance)"
    ),
    "recording": "l’enregistrement",
    "slides": "la présentation",
    "survey": "l’enquête",
    "“{value}” is not an email address: the row is left out": (
        "« {value} » n’est pas une adresse e-mail : la ligne est laissée de côté"
    ),
    "{got} columns where the first line has {want}: the row is left out": (
        "{got} colonnes alors que la première ligne en a {want} : la ligne est laissée de côté"
    ),
    "Correct the address; the other rows are read.": (
        "Corrigez l’adresse ; les autres lignes sont lues."
    ),
    # tables
    "Actions": "Actions",
    "Menu": "Menu",
    "Emails": "E-mails",
    "Field": "Champ",
    "As this sample recipient gets it:": "Tel que le reçoit ce destinataire exemple :",
    # the dashboard (the series page)
    "Next email:": "Prochain envoi :",
    "Session {number}": "Séance {number}",
    "Session by session": "Séance par séance",
    "Reached": "Atteints",
    "Bounced": "Rejetés",
    "Unsubscribed since": "Désinscrits depuis",
    "{yes} yes, {maybe} maybe, {no} no": "{yes} oui, {maybe} peut-être, {no} non",
    "Over the last weeks": "Ces dernières semaines",
    "Emails sent, per week": "E-mails envoyés, par semaine",
    "Bounces, per week": "Rejets, par semaine",
    "Unsubscriptions, per week": "Désinscriptions, par semaine",
    "Sign-ups, per week": "Inscriptions, par semaine",
    "{total} in {weeks} weeks; at most {most}, the week of {day}.": (
        "{total} en {weeks} semaines ; au plus {most}, la semaine du {day}."
    ),
    "week of {day}: {count}": "semaine du {day} : {count}",
    "to prepare": "à préparer",
    "waits for its content": "attend son contenu",
    # the Send page
    "It is one of the daemon's emails: whoever gets it now will not get it again from the "
    "daemon.": (
        "C’est l’un des e-mails automatiques : qui le reçoit maintenant ne le recevra pas une "
        "seconde fois."
    ),
    "It is an email of its own, beside the daemon's: they still go as planned (this one "
    "replaces none of them).": (
        "C’est un e-mail en plus des e-mails automatiques : ceux-ci partent quand même comme "
        "prévu (celui-ci n’en remplace aucun)."
    ),
    "The daemon, afterwards": "Ensuite, automatiquement",
    "still sends:": "partiront encore :",
    "sends nothing more for this session.": "plus rien ne partira pour cette séance.",
    # previews and proofs
    "Write email addresses (separated by spaces or commas).": (
        "Écrivez des adresses e-mail (séparées par des espaces ou des virgules)."
    ),
    "At most {count} addresses for proofs.": "Au plus {count} adresses pour les épreuves.",
    "{address} is on none of the lists.": "{address} n’est sur aucune liste.",
    "Proofs sent:": "Épreuves envoyées :",
    "Show it as this person of the lists gets it (address)": (
        "Le voir tel que le reçoit cette personne des listes (adresse)"
    ),
    "Show": "Afficher",
    "Send a proof of each language to (addresses; empty: you, {email})": (
        "Envoyer une épreuve de chaque langue à (adresses ; vide : vous, {email})"
    ),
    "Send the proofs": "Envoyer les épreuves",
    "As this person of the lists gets it:": "Tel que le reçoit cette personne des listes :",
    "See how far it is": "Voir où il en est",
    # the session editor
    "the same in every language": "le même dans toutes les langues",
    "Position": "Position",
    ":": " :",
    "Before it is saved: who this change emails (next to Save, below).": (
        "Avant l’enregistrement : qui ce changement prévient (près du bouton Enregistrer, en bas)."
    ),
    "{who}: {what}": "{who} : {what}",
    # pausing and resuming a send
    "Pause": "Mettre en pause",
    "The emails in flight finish; the rest waits until you resume.": (
        "Les e-mails en cours d’envoi partent ; les autres attendent la reprise."
    ),
    "Pausing: the emails in flight finish…": "Mise en pause : les e-mails en cours partent…",
    "Paused by {who}": "Mis en pause par {who}",
    "{count} emails wait; nobody sends them (not even the daemon) until the send is resumed.": (
        "{count} e-mails attendent ; personne ne les envoie (pas même l’envoi automatique) "
        "avant la reprise."
    ),
    "Resume: send the {count} emails left": "Reprendre : envoyer les {count} e-mails restants",
    "Nothing is left to send.": "Il ne reste rien à envoyer.",
    "Paused": "En pause",
    "this send is paused (by {who}): resume it on its progress page": (
        "cet envoi est en pause (mis par {who}) : reprenez-le depuis sa page de suivi"
    ),
    # the audit log's details
    "{email} to {to}: {count} emails": "{email} à {to} : {count} e-mails",
    "{email} to {to}": "{email} à {to}",
    "removed by hand": "retirée à la main",
    "removed by hand ({who})": "retirée à la main ({who})",
    "downloaded": "téléchargé",
    "{count} delivery rows": "{count} lignes d’envoi",
    "scope:all": "tous les e-mails",
    "scope:reminders": "les rappels seulement",
    "Open the email on its own page": "Ouvrir l’e-mail sur sa propre page",
    "The email": "L’e-mail",
    "Paused:": "En pause :",
    "session of {day}": "séance du {day}",
    "by {who}": "par {who}",
    "Resume it…": "Le reprendre…",
    "This send is paused (by {who}, {when}): nobody sends it until it is resumed here.": (
        "Cet envoi est en pause (par {who}, {when}) : personne ne l’envoie avant sa reprise, ici."
    ),
    "Yes, resume it and send the {count} emails left now": (
        "Oui, le reprendre et envoyer maintenant les {count} e-mails restants"
    ),
    "Resume": "Reprendre",
    "Resumed: how it goes": "Repris : où en est l’envoi",
}
