"""The words of the people pages (`mailer.web.people_pages`), in French; and the English of
the keys that are not English themselves (a status, how a person joined). Merged into
`mailer.web.words`."""

from __future__ import annotations

FRENCH: dict[str, str] = {
    "Name or address, or a part of it": "Nom ou adresse, ou une partie",
    "All": "Tous",
    "List": "Liste",
    "Lists": "Listes",
    "Segment": "Segment",
    "Language": "Langue",
    "Tag": "Étiquette",
    "Tags": "Étiquettes",
    "Answer for {day}": "Réponse pour le {day}",
    "Lists kept here (sign-ups, people added on these pages):": (
        "Listes tenues ici (inscriptions, personnes ajoutées sur ces pages) :"
    ),
    "page {n} of {pages}": "page {n} sur {pages}",
    "Nobody matches.": "Personne ne correspond.",
    "Previous page": "Page précédente",
    "Next page": "Page suivante",
    "status:mailed": "reçoit les messages",
    "status:suppressed": "ne reçoit plus rien",
    "status:reminders": "sans les rappels",
    "suppression:unsubscribed": "désinscription",
    "suppression:bounced": "adresse en échec",
    "suppression:manual": "retirée à la main",
    "suppression:erased": "effacée",
    "origin:signup": "inscription confirmée",
    "origin:organiser": "ajoutée par un organisateur",
    "origin:upload": "fichier importé",
    "How they joined": "Comment la personne s’est inscrite",
    "Asked": "Demandé",
    "Confirmed": "Confirmé",
    "Consent": "Consentement",
    "version {version}, in {language}": "version {version}, en {language}",
    "Changed on their preferences page:": "Modifié sur sa page de préférences :",
    "name": "nom",
    "language": "langue",
    "time zone": "fuseau horaire",
    "Actions": "Actions",
    "Mail this address again (only if the person asked for it).": (
        "Écrire de nouveau à cette adresse (seulement si la personne l’a demandé)."
    ),
    "Mail again": "Écrire de nouveau",
    "Why (kept in the audit log)": "Pourquoi (noté dans le journal)",
    "Never mail again": "Ne plus jamais écrire",
    "Everything held about this person, as a JSON file (what they may ask for).": (
        "Tout ce qui est conservé sur cette personne, dans un fichier JSON (ce qu’elle peut "
        "demander)."
    ),
    "Export": "Exporter",
    "Erase everything held about this person: their history, answers and sign-ups; only a "
    "hash of the address stays, so that no list mails it again. A CSV list file that holds "
    "them is not changed: remove their row there too.": (
        "Effacer tout ce qui est conservé sur cette personne : son historique, ses réponses, "
        "ses inscriptions ; seule une empreinte de l’adresse reste, pour qu’aucune liste ne lui "
        "écrive plus. Un fichier de liste CSV qui la contient n’est pas modifié : retirez-y "
        "aussi sa ligne."
    ),
    "Yes, erase this person for good": "Oui, effacer définitivement cette personne",
    "Erase": "Effacer",
    "Tick the box to confirm.": "Cochez la case pour confirmer.",
    "Yes, mail this address again": "Oui, écrire de nouveau à cette adresse",
    "Yes, never mail this address again": "Oui, ne plus jamais écrire à cette adresse",
    "Yes, download their data (it goes into the audit log)": (
        "Oui, télécharger ses données (c’est noté dans le journal)"
    ),
    "Add to a list kept here, or edit them there": (
        "L’ajouter à une liste tenue ici, ou l’y modifier"
    ),
    "Save on {name}": "Enregistrer dans {name}",
    "The list {name}": "La liste {name}",
    "This list is kept by mailer (no file): people who signed up on the public page and "
    "confirmed, and people added here.": (
        "Cette liste est tenue ici (sans fichier) : les personnes inscrites sur la page "
        "publique qui ont confirmé, et celles ajoutées ici."
    ),
    "Add a person, or edit one": "Ajouter une personne, ou la modifier",
    "Time zone (e.g. America/Montreal; empty: the series')": (
        "Fuseau horaire (par ex. America/Montreal ; vide : celui du cycle)"
    ),
    "Tags (separated by ;)": "Étiquettes (séparées par ;)",
    "Save": "Enregistrer",
    "Upload a CSV file": "Importer un fichier CSV",
    "A column with the addresses is enough; name, language, tags and time zone are read when "
    "the file has them (also from Mailchimp's or a spreadsheet's exports). Nothing is written "
    "before you have seen what would change.": (
        "Une colonne d’adresses suffit ; nom, langue, étiquettes et fuseau horaire sont lus si "
        "le fichier les a (y compris dans les exports de Mailchimp ou d’un tableur). Rien n’est "
        "écrit avant que vous ayez vu ce qui changerait."
    ),
    "File (CSV, UTF-8)": "Fichier (CSV, UTF-8)",
    "See what would change": "Voir ce qui changerait",
    "Remove from the list": "Retirer de la liste",
    "Nobody yet.": "Personne pour l’instant.",
    "Upload into {name}: what would change": "Import dans {name} : ce qui changerait",
    "The list changed since the preview: nothing was written. Here is what the file would "
    "change now.": (
        "La liste a changé depuis l’aperçu : rien n’a été écrit. Voici ce que le fichier "
        "changerait maintenant."
    ),
    "The file's columns": "Les colonnes du fichier",
    "Column of the file": "Colonne du fichier",
    "Read as": "Lue comme",
    "not kept": "non conservée",
    "column:email": "adresse",
    "column:name": "nom",
    "column:language": "langue",
    "column:tags": "étiquettes",
    "column:timezone": "fuseau horaire",
    "{added} to add, {updated} to update, {unchanged} unchanged, {problems} rows not read.": (
        "{added} à ajouter, {updated} à modifier, {unchanged} inchangées, {problems} lignes "
        "non lues."
    ),
    "Rows not read, and warnings": "Lignes non lues, et avertissements",
    "line {line}": "ligne {line}",
    "The changes": "Les changements",
    "Line": "Ligne",
    "Change": "Changement",
    "change:added": "ajout",
    "change:updated": "modification",
    "change:unchanged": "inchangée",
    "Nothing to write.": "Rien à écrire.",
    "Write these {count} changes": "Écrire ces {count} changements",
    "Cancel": "Annuler",
    "The file is too large (5 MB at most).": "Le fichier est trop gros (5 Mo au plus).",
    "The file is not UTF-8: save it as CSV UTF-8 and upload it again.": (
        "Le fichier n’est pas en UTF-8 : enregistrez-le en CSV UTF-8 et importez-le de nouveau."
    ),
    "done:suppress": "Cette adresse ne recevra plus rien.",
    "done:unsuppress": "Cette adresse reçoit de nouveau les messages.",
    "done:added": "La personne est ajoutée à la liste.",
    "done:edited": "Les informations de la personne sont enregistrées.",
    "done:removed": "La personne est retirée de la liste.",
    "done:uploaded": "Le fichier est importé dans la liste.",
    "person suppress": "adresse retirée",
    "person unsuppress": "adresse rétablie",
    "person export": "données exportées",
    "person erase": "personne effacée",
    "list add": "ajout à une liste",
    "list edit": "modification dans une liste",
    "list remove": "retrait d’une liste",
    "list upload": "import dans une liste",
}
ENGLISH: dict[str, str] = {
    "status:mailed": "mailed",
    "status:suppressed": "never mailed again",
    "status:reminders": "no reminders",
    "suppression:unsubscribed": "unsubscribed",
    "suppression:bounced": "bounced",
    "suppression:manual": "removed by hand",
    "suppression:erased": "erased",
    "origin:signup": "confirmed sign-up",
    "origin:organiser": "added by an organiser",
    "origin:upload": "uploaded file",
    "column:email": "address",
    "column:name": "name",
    "column:language": "language",
    "column:tags": "tags",
    "column:timezone": "time zone",
    "change:added": "added",
    "change:updated": "updated",
    "change:unchanged": "unchanged",
    "done:suppress": "This address gets nothing more.",
    "done:unsuppress": "This address gets the emails again.",
    "done:added": "The person is added to the list.",
    "done:edited": "The person's details are saved.",
    "done:removed": "The person is removed from the list.",
    "done:uploaded": "The file is written into the list.",
}
