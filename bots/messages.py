"""Every text the bot says, in each language of the event. `say(language, key, **params)`."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "help.title": {"de": "So funktioniert /hack", "en": "How to use /hack"},
    "help.intro": {
        "de": "Schreib `/hack` und einen dieser Befehle:",
        "en": "Type `/hack` followed by one of these commands:",
    },
    "help.organiser": {"de": "Nur für das Orga-Team:", "en": "Organisers only:"},
    "cmd.help": {"de": "diese Hilfe", "en": "this help"},
    "cmd.status": {"de": "Phase, Countdown und dein Stand", "en": "phase, countdown and where you stand"},
    "cmd.profile": {
        "de": "Fähigkeiten, Sprachen und Zeitzone angeben",
        "en": "set your skills, languages and time zone",
    },
    "cmd.team create": {"de": "ein Team gründen", "en": "create a team"},
    "cmd.team join": {"de": "einem Team mit seinem Code beitreten", "en": "join a team with its code"},
    "cmd.team leave": {"de": "dein Team verlassen", "en": "leave your team"},
    "cmd.team info": {"de": "dein Team ansehen", "en": "show your team"},
    "cmd.teams open": {"de": "Teams mit freien Plätzen", "en": "teams with free places"},
    "cmd.match me": {"de": "automatisch einem Team zuordnen lassen", "en": "let us match you into a team"},
    "cmd.challenges": {"de": "Herausforderungen suchen", "en": "search the challenges"},
    "cmd.challenge pick": {
        "de": "Herausforderungen für dein Team wählen (nach Vorliebe)",
        "en": "pick your team's challenges (in order of preference)",
    },
    "cmd.experts": {"de": "Expert:innen mit freien Terminen", "en": "experts with free slots"},
    "cmd.help-request": {"de": "eine schnelle Frage an Expert:innen", "en": "ask experts a quick question"},
    "cmd.submit": {"de": "der Link zur Einreichung deines Teams", "en": "your team's submission link"},
    "cmd.announce": {"de": "Ankündigung an alle senden", "en": "send an announcement to everybody"},
    "cmd.phase": {"de": "Phasen und ihre Zeiten", "en": "the phases and their times"},
    "cmd.stats": {"de": "Zahlen zum Stand", "en": "numbers at a glance"},
    "usage": {"de": "So geht's: `/hack {usage}`", "en": "Write it like this: `/hack {usage}`"},
    "unknown": {
        "de": "`{word}` kenne ich nicht. Meintest du `/hack {suggestion}`? Alle Befehle: `/hack help`",
        "en": "I don't know `{word}`. Did you mean `/hack {suggestion}`? All commands: `/hack help`",
    },
    "unknown.plain": {
        "de": "`{word}` kenne ich nicht. Alle Befehle: `/hack help`",
        "en": "I don't know `{word}`. All commands: `/hack help`",
    },
    "empty": {
        "de": "Schreib einen Befehl nach `/hack`, z. B. `/hack status`. Alle Befehle: `/hack help`",
        "en": "Type a command after `/hack`, e.g. `/hack status`. All commands: `/hack help`",
    },
    "not_open": {
        "de": "`/hack {command}` ist in dieser Version noch nicht verfügbar.",
        "en": "`/hack {command}` is not available in this version yet.",
    },
    "organisers_only": {
        "de": "`/hack {command}` ist nur für das Orga-Team.",
        "en": "`/hack {command}` is for organisers only.",
    },
    "failed": {
        "de": "Da ist bei uns etwas schiefgegangen. Bitte versuch es gleich noch einmal.",
        "en": "Something went wrong on our side. Please try again in a moment.",
    },
    "working": {"de": "Bin dran …", "en": "Working on it…"},
    "refused": {"de": "Das geht nicht: {reason}", "en": "That didn't work: {reason}"},
    "status.title": {"de": "{event}: {phase}", "en": "{event}: {phase}"},
    "status.next": {"de": "{phase} in {left}", "en": "{phase} in {left}"},
    "status.over": {
        "de": "Das Event ist vorbei. Danke fürs Mitmachen!",
        "en": "The event is over. Thank you!",
    },
    "status.team": {"de": "Team", "en": "Team"},
    "status.challenge": {"de": "Herausforderung", "en": "Challenge"},
    "status.booking": {"de": "Nächster Termin", "en": "Next booking"},
    "status.submission": {"de": "Einreichung", "en": "Submission"},
    "status.no_team": {
        "de": "noch keins (`/hack team create <Name>` oder `/hack match me`)",
        "en": "none yet (`/hack team create <name>` or `/hack match me`)",
    },
    "status.in_pool": {"de": "wird zugeordnet (im Matching-Pool)", "en": "being matched (in the pool)"},
    "status.none": {"de": "noch keine", "en": "none yet"},
    "submission.draft": {"de": "Entwurf", "en": "draft"},
    "submission.submitted": {"de": "eingereicht", "en": "submitted"},
    "submission.final": {"de": "final", "en": "final"},
    "profile.title": {"de": "Dein Profil", "en": "Your profile"},
    "profile.saved": {"de": "Profil gespeichert.", "en": "Profile saved."},
    "profile.skills": {"de": "Fähigkeiten", "en": "Skills"},
    "profile.languages": {"de": "Sprachen", "en": "Languages"},
    "profile.timezone": {"de": "Zeitzone", "en": "Time zone"},
    "profile.unset": {"de": "nicht angegeben", "en": "not set"},
    "profile.usage_hint": {
        "de": "Ändern: `/hack profile skills python,design langs de,en tz Europe/Berlin`",
        "en": "Change it: `/hack profile skills python,design langs de,en tz Europe/Berlin`",
    },
    "profile.no_skills": {"de": "Keine Fähigkeiten angegeben", "en": "No skills given"},
    "profile.skill_too_long": {
        "de": "Eine Fähigkeit hat höchstens {limit} Zeichen: `{skill}`",
        "en": "A skill has at most {limit} characters: `{skill}`",
    },
    "profile.too_many_skills": {"de": "Höchstens {limit} Fähigkeiten", "en": "At most {limit} skills"},
    "profile.bad_languages": {
        "de": "Sprachen sind Kürzel aus zwei Buchstaben wie de,en",
        "en": "Languages are two-letter codes like de,en",
    },
    "profile.bad_timezone": {
        "de": "`{zone}` ist keine Zeitzone wie Europe/Berlin",
        "en": "`{zone}` is not a time zone like Europe/Berlin",
    },
    "profile.needs_value": {"de": "`{field}` braucht einen Wert", "en": "`{field}` needs a value"},
    "profile.unknown_key": {
        "de": "`{word}`? Erlaubt sind skills, langs und tz",
        "en": "`{word}`? Use skills, langs and tz",
    },
    "announce.sent": {
        "de": "Ankündigung verschickt an: {channels}",
        "en": "Announcement sent to: {channels}",
    },
    "phase.line": {"de": "{phase}: {at}", "en": "{phase}: {at}"},
    "stats.participants": {"de": "Teilnehmende", "en": "Participants"},
    "stats.teams": {"de": "Teams", "en": "Teams"},
    "stats.pool": {"de": "im Matching-Pool", "en": "in the matching pool"},
    "stats.submissions": {"de": "Einreichungen", "en": "Submissions"},
    "stats.outbox": {"de": "Nachrichten in der Warteschlange", "en": "Messages waiting"},
    "phase.before": {"de": "vor der Anmeldung", "en": "before registration"},
    "phase.registration": {"de": "Anmeldung", "en": "Registration"},
    "phase.kickoff": {"de": "Kickoff", "en": "Kickoff"},
    "phase.hacking": {"de": "Hacking", "en": "Hacking"},
    "phase.team_formation_close": {"de": "Ende der Teambildung", "en": "Team formation closes"},
    "phase.submission_deadline": {"de": "Abgabeschluss", "en": "Submission deadline"},
    "phase.judging": {"de": "Jury-Bewertung", "en": "Judging"},
    "phase.awards": {"de": "Preisverleihung", "en": "Awards"},
    "phase.end": {"de": "Ende", "en": "End"},
}


def say(language: str, key: str, **params: object) -> str:
    texts = MESSAGES[key]
    template = texts.get(language) or texts["en"]
    return template.format(**params) if params else template
