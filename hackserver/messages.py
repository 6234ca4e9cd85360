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
    "cmd.match run": {
        "de": "den Matching-Pool jetzt in Teams aufteilen",
        "en": "match the pool into teams now",
    },
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
    "profile.link_code": {
        "de": "Tippe auf deinem anderen Chat-Konto (innerhalb von {minutes} Minuten): `/hack link {code}`",
        "en": "On your other chat account, type (within {minutes} minutes): `/hack link {code}`",
    },
    "profile.linked": {
        "de": "Verknüpft: dieses Konto gehört jetzt zu {name}, mit Profil und Team.",
        "en": "Linked: this account now belongs to {name}, with profile and team.",
    },
    "profile.bad_link_code": {
        "de": "Der Code stimmt nicht oder ist abgelaufen. Hol dir einen neuen mit `/hack link`",
        "en": "That code is wrong or has expired. Get a new one with `/hack link`",
    },
    "profile.already_linked": {
        "de": "Dieses Konto gehört schon dazu",
        "en": "This account is linked already",
    },
    "profile.both_in_teams": {
        "de": "Beide Konten sind in einem Team. Verlass eins zuerst mit `/hack team leave`",
        "en": "Both accounts are in a team. Leave one first with `/hack team leave`",
    },
    "cmd.link": {
        "de": "ein weiteres Chat-Konto mit deinem Profil verknüpfen",
        "en": "link another chat account to your profile",
    },
    "profile.interests": {"de": "Möchte arbeiten an", "en": "Wants to work on"},
    "profile.no_interests": {"de": "Keine Themen angegeben", "en": "No topics given"},
    "profile.too_many_interests": {
        "de": "Höchstens {limit} Themen oder Herausforderungs-Nummern, je höchstens {length} Zeichen",
        "en": "At most {limit} topics or challenge ids, each at most {length} characters",
    },
    "profile.unset": {"de": "nicht angegeben", "en": "not set"},
    "profile.usage_hint": {
        "de": "Ändern: `/hack profile skills python,design langs de,en tz Europe/Berlin`",
        "en": "Change it: `/hack profile skills python,design langs de,en tz Europe/Berlin`",
    },
    "profile.no_skills": {"de": "Keine Fähigkeiten angegeben", "en": "No skills given"},
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
        "de": "`{word}`? Erlaubt sind skills, langs, tz und wants",
        "en": "`{word}`? Use skills, langs, tz and wants",
    },
    "team.name_length": {
        "de": "Ein Teamname hat {low} bis {high} Zeichen",
        "en": "A team name has {low} to {high} characters",
    },
    "team.name_characters": {
        "de": "Ein Teamname besteht aus Buchstaben, Ziffern, Leerzeichen und - . ' & + ! ?",
        "en": "A team name is made of letters, digits, spaces and - . ' & + ! ?",
    },
    "team.name_taken": {
        "de": "Den Teamnamen „{name}“ gibt es schon; er ist vergeben. Wähl einen anderen",
        "en": "The team name “{name}” already exists; it is taken. Choose another one",
    },
    "team.already_in": {
        "de": "Du bist schon im Team „{team}“. Verlass es zuerst mit `/hack team leave`",
        "en": "You are already in team “{team}”. Leave it first with `/hack team leave`",
    },
    "team.already_member": {"de": "Du bist schon im Team „{team}“", "en": "You are already in team “{team}”"},
    "team.not_in_one": {
        "de": "Du bist in keinem Team. `/hack team create <Name>`, `/hack team join <Code>` oder `/hack match me`",
        "en": "You are not in a team. `/hack team create <name>`, `/hack team join <code>` or `/hack match me`",
    },
    "team.no_such_code": {
        "de": "Kein Team hat den Code `{code}`. Offene Teams: `/hack teams open`",
        "en": "No team has the code `{code}`. Teams with free places: `/hack teams open`",
    },
    "team.full": {
        "de": "Das Team „{team}“ ist voll ({max} Personen). Offene Teams: `/hack teams open`",
        "en": "Team “{team}” is full ({max} people). Teams with free places: `/hack teams open`",
    },
    "database_down": {
        "de": "Der Server erreicht gerade seine Datenbank nicht; es hat sich nichts geändert. Versuch es in einer Minute noch einmal.",
        "en": "The server cannot reach its database right now; nothing was changed. Please try again in a minute.",
    },
    "slow_down": {
        "de": "Langsamer, bitte: höchstens {limit} Befehle in {seconds} Sekunden. Versuch es gleich noch einmal.",
        "en": "Slow down, please: at most {limit} commands in {seconds} seconds. Try again in a moment.",
    },
    "link.bad": {
        "de": "Dieser Link ist ungültig. Hol dir einen neuen beim Bot oder beim Orga-Team",
        "en": "This link is not valid. Ask the bot or the organisers for a new one",
    },
    "link.expired": {
        "de": "Dieser Link ist abgelaufen: die Veranstaltung ist vorbei",
        "en": "This link has expired: the event is over",
    },
    "link.revoked": {
        "de": "Dieser Link wurde vom Orga-Team gesperrt. Hol dir einen neuen beim Bot oder beim Orga-Team",
        "en": "The organisers have revoked this link. Ask the bot or the organisers for a new one",
    },
    "team.locked": {
        "de": "Die Teambildung ist vorbei; Teams sind jetzt fest. Das Orga-Team kann noch Personen verschieben",
        "en": "Team formation has closed; teams are locked now. Organisers can still move people",
    },
    "team.not_yet": {
        "de": "Die Teambildung beginnt mit der Anmeldung",
        "en": "Team formation opens when registration does",
    },
    "team.gone": {
        "de": "Das Team „{team}“ gibt es nicht mehr; alle haben es verlassen",
        "en": "Team “{team}” is gone; everybody left it",
    },
    "team.no_such_team": {"de": "Kein Team mit der Nummer {id}", "en": "No team with id {id}"},
    "team.no_such_participant": {
        "de": "Keine Person mit der Nummer {id}",
        "en": "No participant with id {id}",
    },
    "team.merge_itself": {
        "de": "Ein Team lässt sich nicht mit sich selbst zusammenlegen",
        "en": "A team cannot be merged into itself",
    },
    "team.merge_too_big": {
        "de": "„{source}“ und „{target}“ zusammen hätten mehr als {max} Personen",
        "en": "“{source}” and “{target}” together would have more than {max} people",
    },
    "team.welcome_created": {
        "de": "Willkommen im Team „{name}“, {person}! Euer Beitrittscode: `{code}`. Teilt ihn: `/hack team join {code}`",
        "en": "Welcome to team “{name}”, {person}! Your join code: `{code}`. Share it: `/hack team join {code}`",
    },
    "team.joined": {
        "de": "{person} ist dabei (Fähigkeiten: {skills}). Ihr seid jetzt {size} von höchstens {max}.",
        "en": "{person} joined (skills: {skills}). You are now {size} of at most {max}.",
    },
    "team.left_note": {
        "de": "{person} hat das Team verlassen. Ihr seid jetzt {size} von höchstens {max}.",
        "en": "{person} left the team. You are now {size} of at most {max}.",
    },
    "team.moved_in": {
        "de": "Das Orga-Team hat {person} in euer Team geholt (Fähigkeiten: {skills}). Ihr seid jetzt {size} von höchstens {max}.",
        "en": "The organisers moved {person} into your team (skills: {skills}). You are now {size} of at most {max}.",
    },
    "team.merged_in": {
        "de": "Das Orga-Team hat „{source}“ mit eurem Team zusammengelegt. Ihr seid jetzt {size} von höchstens {max}.",
        "en": "The organisers merged “{source}” into your team. You are now {size} of at most {max}.",
    },
    "team.dissolved_note": {
        "de": "Das Orga-Team hat das Team „{name}“ aufgelöst. Ihr seid wieder im Matching-Pool (`/hack status`).",
        "en": "The organisers dissolved team “{name}”. You are back in the matching pool (`/hack status`).",
    },
    "team.created_reply": {
        "de": "Team „{name}“ gegründet. Beitrittscode: `{code}` – teile ihn: `/hack team join {code}`",
        "en": "Team “{name}” created. Join code: `{code}` – share it: `/hack team join {code}`",
    },
    "team.joined_reply": {
        "de": "Du bist jetzt im Team „{name}“ ({size}/{max}).",
        "en": "You are now in team “{name}” ({size}/{max}).",
    },
    "team.left_reply": {"de": "Du hast das Team „{name}“ verlassen.", "en": "You left team “{name}”."},
    "team.info_title": {"de": "Team „{name}“", "en": "Team “{name}”"},
    "team.code": {"de": "Beitrittscode", "en": "Join code"},
    "team.size": {"de": "Größe", "en": "Size"},
    "team.members": {"de": "Mitglieder", "en": "Members"},
    "team.skills": {"de": "Fähigkeiten im Team", "en": "Skills in the team"},
    "team.why": {"de": "Warum zusammen", "en": "Why together"},
    "team.channel": {"de": "Team-Kanal", "en": "Team channel"},
    "teams.open_title": {"de": "Teams mit freien Plätzen", "en": "Teams with free places"},
    "teams.open_none": {
        "de": "Gerade hat kein Team freie Plätze{skill}. Gründe eins (`/hack team create <Name>`) oder lass dich zuordnen (`/hack match me`).",
        "en": "No team has free places{skill} right now. Create one (`/hack team create <name>`) or let us match you (`/hack match me`).",
    },
    "teams.open_line": {
        "de": "„{name}“ – {size}/{max}, hat: {skills} · `/hack team join {code}`",
        "en": "“{name}” – {size}/{max}, has: {skills} · `/hack team join {code}`",
    },
    "teams.needing": {"de": " ohne {skill}", "en": " needing {skill}"},
    "match.pooled": {
        "de": "Du bist im Matching-Pool. Wenn die Teambildung endet ({at}), bekommst du ein Team mit gemeinsamer Sprache und passenden Fähigkeiten. Tipp: `/hack profile` vollständig ausfüllen.",
        "en": "You are in the matching pool. When team formation closes ({at}) you get a team with a shared language and matching skills. Tip: complete your `/hack profile`.",
    },
    "match.already": {
        "de": "Du bist schon im Matching-Pool ({at}).",
        "en": "You are already in the matching pool ({at}).",
    },
    "match.welcome": {
        "de": "Willkommen, Team „{name}“! Das Matching hat euch zusammengebracht:\n{members}\nWarum: {why}\nBeitrittscode für Nachzügler: `{code}`",
        "en": "Welcome, team “{name}”! Matching put you together:\n{members}\nWhy: {why}\nJoin code for latecomers: `{code}`",
    },
    "match.joined_open": {
        "de": "Das Matching hat euch Verstärkung gebracht:\n{members}\nWarum: {why}",
        "en": "Matching brought you more people:\n{members}\nWhy: {why}",
    },
    "match.bad_seed": {
        "de": "Der Seed ist eine ganze Zahl von 0 bis {max}",
        "en": "The seed is a whole number from 0 to {max}",
    },
    "match.member_line": {"de": "• {name} ({skills})", "en": "• {name} ({skills})"},
    "match.why.language": {"de": "ihr sprecht {language}", "en": "you all speak {language}"},
    "match.why.skills": {"de": "{count} verschiedene Fähigkeiten", "en": "{count} different skills"},
    "match.why.interest": {
        "de": "{members} von euch wollen an {interest} arbeiten",
        "en": "{members} of you want to work on {interest}",
    },
    "match.why.time_zones": {
        "de": "Zeitzonen höchstens {spread} h auseinander",
        "en": "time zones at most {spread} h apart",
    },
    "match.why.filled_open_team": {
        "de": "euer Team brauchte noch Leute",
        "en": "your team needed more people",
    },
    "match.alone.only_speaker": {
        "de": "niemand sonst im Pool spricht {languages}",
        "en": "nobody else in the pool speaks {languages}",
    },
    "match.alone.no_room": {
        "de": "alle Teams in {languages} sind voll und zu wenige bleiben für ein neues",
        "en": "every team speaking {languages} is full, and too few are left for a new one",
    },
    "match.alone_note": {
        "de": "Wir konnten dich leider keinem Team zuordnen: {why}. Das Orga-Team weiß Bescheid und meldet sich.",
        "en": "We could not match you into a team: {why}. The organisers know and will get in touch.",
    },
    "match.done": {
        "de": "Matching fertig: {teams} neue Teams, {placed} Personen in offene Teams, {alone} ohne Team.",
        "en": "Matching done: {teams} new teams, {placed} people placed in open teams, {alone} left without a team.",
    },
    "challenge.locked": {
        "de": "Die Wahl der Herausforderungen endete mit der Teambildung; das Orga-Team kann noch ändern",
        "en": "Picking challenges ended when team formation closed; organisers can still change them",
    },
    "challenge.no_ids": {
        "de": "Nenne bis zu drei Herausforderungen nach Vorliebe, z. B. `/hack challenge pick C12 C3 C40`",
        "en": "Name up to three challenges by preference, e.g. `/hack challenge pick C12 C3 C40`",
    },
    "challenge.too_many": {"de": "Höchstens {limit} Herausforderungen", "en": "At most {limit} challenges"},
    "challenge.unknown": {
        "de": "Diese Herausforderung gibt es nicht: {ids}. Suchen: `/hack challenges <Wörter>`",
        "en": "No such challenge: {ids}. Search: `/hack challenges <words>`",
    },
    "challenge.picked_team": {
        "de": "Die Wahl eures Teams, nach Vorliebe:",
        "en": "Your team's choices, most wanted first:",
    },
    "challenge.picked_solo": {
        "de": "Gemerkt: daran willst du arbeiten. Das Matching bringt dich mit Leuten zusammen, die dasselbe wollen:",
        "en": "Noted: this is what you want to work on. Matching puts you with people who want the same:",
    },
    "challenge.unknown_skipped": {
        "de": "Übersprungen, weil es sie nicht gibt: {ids}",
        "en": "Skipped, as they don't exist: {ids}",
    },
    "challenge.line": {
        "de": "{n}. `{id}` {title} ({free})",
        "en": "{n}. `{id}` {title} ({free})",
    },
    "challenge.free": {"de": "{free} von {max} Plätzen frei", "en": "{free} of {max} places free"},
    "challenge.unlimited": {"de": "unbegrenzt", "en": "no limit"},
    "challenge.wanted": {"de": "{n} Teams wollen sie zuerst", "en": "first choice of {n} teams"},
    "challenges.title": {"de": "Herausforderungen", "en": "Challenges"},
    "challenges.found": {"de": "Treffer für „{words}“", "en": "Found for “{words}”"},
    "challenges.none": {
        "de": "Nichts gefunden für „{words}“. Versuch andere Wörter oder `/hack challenges` für alle.",
        "en": "Nothing found for “{words}”. Try other words, or `/hack challenges` for all.",
    },
    "challenges.empty": {
        "de": "Noch sind keine Herausforderungen eingetragen.",
        "en": "No challenges have been added yet.",
    },
    "challenges.more": {
        "de": "… und {n} weitere. Grenze die Suche ein: `/hack challenges <Wörter>`",
        "en": "… and {n} more. Narrow it down: `/hack challenges <words>`",
    },
    "challenges.pick_hint": {
        "de": "Wählen: `/hack challenge pick <ID> [<ID> <ID>]`",
        "en": "Pick: `/hack challenge pick <id> [<id> <id>]`",
    },
    "challenge.yours": {
        "de": "Eure Herausforderung: `{id}` {title}.",
        "en": "Your challenge: `{id}` {title}.",
    },
    "challenge.why.rank0": {"de": "Eure erste Wahl!", "en": "Your first choice!"},
    "challenge.why.rank1": {
        "de": "Eure zweite Wahl: die erste war bei anderen Teams noch gefragter.",
        "en": "Your second choice: your first was wanted more by other teams.",
    },
    "challenge.why.rank2": {
        "de": "Eure dritte Wahl: die ersten beiden hatten keinen Platz mehr.",
        "en": "Your third choice: the first two had no room left.",
    },
    "challenge.why.choices_full": {
        "de": "Eure Wahl ({picked}) war schon voll; diese passt zu eurer Sprache und hat noch Platz.",
        "en": "Your choices ({picked}) were full; this one fits your language and has room.",
    },
    "challenge.why.no_choices": {
        "de": "Ihr hattet keine gewählt; diese passt zu eurer Sprache und hat noch kein oder kaum ein Team.",
        "en": "You picked none; this one fits your language and has few or no teams yet.",
    },
    "challenge.why.override": {
        "de": "Das Orga-Team hat sie euch zugeteilt.",
        "en": "The organisers gave it to you.",
    },
    "assignment.done": {
        "de": "Zuteilung fertig: {teams} Teams, {changed} geändert. {ranks}",
        "en": "Assignment done: {teams} teams, {changed} changed. {ranks}",
    },
    "assignment.unplaced": {
        "de": "Ohne Herausforderung (kein Platz mehr): {names}",
        "en": "Without a challenge (no room left): {names}",
    },
    "cmd.assignment run": {
        "de": "jedem Team jetzt eine Herausforderung zuteilen",
        "en": "give every team a challenge now",
    },
    "announce.sent": {
        "de": "Ankündigung verschickt an: {channels}",
        "en": "Announcement sent to: {channels}",
    },
    "announce.unknown_target": {
        "de": "Ankündigungen gehen nicht nach {target!r}; möglich sind all, {targets}",
        "en": "announcements cannot go to {target!r}; use all, {targets}",
    },
    "outbox.unknown": {"de": "Keine Nachricht mit der Nummer {id}", "en": "no outbox message with id {id}"},
    "outbox.not_dead": {
        "de": "Nachricht {id} ist nicht unzustellbar (Status {status}); nur unzustellbare werden neu versucht",
        "en": "message {id} is not a dead letter (status {status}); only dead letters are retried",
    },
    "phase.line": {"de": "{phase}: {at}", "en": "{phase}: {at}"},
    "phase.unknown": {
        "de": "Die Phase {name!r} gibt es nicht; Phasen sind {phases}",
        "en": "unknown phase {name!r}; phases are {phases}",
    },
    "phase.zero_shift": {
        "de": "Eine Verschiebung um 0 ändert nichts; gib eine Dauer wie +30m oder -10m an",
        "en": "a shift of 0 changes nothing; give a duration like +30m or -10m",
    },
    "phase.shift_too_large": {
        "de": "Höchstens {limit} Tage auf einmal; gib eine Dauer wie +30m oder +1d an",
        "en": "at most {limit} days at a time; give a duration like +30m or +1d",
    },
    "phase.begun": {
        "de": "Die Phase {name} hat schon begonnen; nur kommende Phasen lassen sich verschieben",
        "en": "phase {name} has already begun; only phases still to come can be shifted",
    },
    "phase.in_past": {
        "de": "Die Phase {name} würde in der Vergangenheit beginnen",
        "en": "phase {name} would begin in the past",
    },
    "phase.out_of_order": {
        "de": "{name} um {delta} zu verschieben legt sie vor die Phase davor",
        "en": "shifting {name} by {delta} puts it before the phase it follows",
    },
    "submission.link": {
        "de": "Der Einreichungslink eures Teams {team}: {url}\nAlle im Team können bis zum Abgabeschluss ({deadline}) bearbeiten. Gebt ihn nicht weiter.",
        "en": "Your team {team}'s submission link: {url}\nEveryone in the team can edit it until the deadline ({deadline}). Keep it within the team.",
    },
    "submission.link_label": {"de": "Einreichung bearbeiten", "en": "Edit the submission"},
    "submission.no_team": {
        "de": "Einreichen können nur Teams. Gründe eines (`/hack team create <Name>`) oder tritt einem bei.",
        "en": "Only teams submit. Create one (`/hack team create <name>`) or join one first.",
    },
    "submission.closed": {
        "de": "Die Abgabe ist seit {deadline} geschlossen; nichts wurde geändert.",
        "en": "Submissions closed at {deadline}; nothing was changed.",
    },
    "submission.final_already": {
        "de": "Eure Einreichung ist final (Version {version}); nichts wurde geändert.",
        "en": "Your submission is final (version {version}); nothing was changed.",
    },
    "submission.invalid": {
        "de": "Bitte korrigiert die markierten Felder; nichts wurde gespeichert.",
        "en": "Please correct the marked fields; nothing was saved.",
    },
    "submission.field_required": {
        "de": "{field} fehlt; zum Einreichen ist es nötig.",
        "en": "{field} is missing; it is needed to submit.",
    },
    "text.too_long": {
        "de": "{field_de} hat {length} Zeichen; höchstens {limit} sind erlaubt.",
        "en": "{field_en} has {length} characters; at most {limit} are allowed.",
    },
    "submission.field_too_long": {
        "de": "{field} hat {length} Zeichen; höchstens {max} sind erlaubt.",
        "en": "{field} has {length} characters; at most {max} are allowed.",
    },
    "submission.field_url": {
        "de": "{field} muss eine Adresse wie https://example.org/projekt sein (http oder https).",
        "en": "{field} must be an address like https://example.org/project (http or https).",
    },
    "submission.empty_draft": {
        "de": "Ein Entwurf braucht mindestens ein ausgefülltes Feld.",
        "en": "A draft needs at least one field filled in.",
    },
    "submission.saved_by_required": {
        "de": "Wählt aus, wer speichert.",
        "en": "Choose who is saving.",
    },
    "submission.not_member": {
        "de": "Nur Mitglieder des Teams können genannt werden.",
        "en": "Only members of the team can be named.",
    },
    "submission.no_credits": {
        "de": "Nennt mindestens ein Teammitglied.",
        "en": "Credit at least one team member.",
    },
    "submission.confirmed": {
        "de": "✅ Eingereicht: „{title}“ (Version {version}, gespeichert von {person}). Ihr könnt sie bis {deadline} weiter ändern.",
        "en": "✅ Submitted: “{title}” (version {version}, saved by {person}). You can still change it until {deadline}.",
    },
    "submission.updated": {
        "de": "Einreichung geändert: „{title}“ ist jetzt Version {version} (gespeichert von {person}).",
        "en": "Submission updated: “{title}” is now version {version} (saved by {person}).",
    },
    "submission.frozen": {
        "de": "🔒 Abgabeschluss: eure Einreichung „{title}“ ist final (Version {version}). Viel Glück bei der Jury!",
        "en": "🔒 Deadline: your submission “{title}” is final (version {version}). Good luck with the jury!",
    },
    "submission.extended_note": {
        "de": "Das Orga-Team hat euch verlängert: ihr könnt bis {until} einreichen.",
        "en": "The organisers gave you an extension: you can submit until {until}.",
    },
    "submission.extension_too_early": {
        "de": "Eine Verlängerung muss nach dem Abgabeschluss ({deadline}) enden.",
        "en": "an extension must end after the deadline ({deadline})",
    },
    "submission.extension_too_late": {
        "de": "Eine Verlängerung muss vor Beginn der Jury-Bewertung ({judging}) enden.",
        "en": "an extension must end before judging begins ({judging})",
    },
    "submission.judging_begun": {
        "de": "Die Jury-Bewertung hat begonnen; Verlängerungen sind vorbei.",
        "en": "judging has begun; no more extensions",
    },
    "submission.extended": {
        "de": "{team} kann bis {until} einreichen.",
        "en": "{team} can submit until {until}.",
    },
    "cmd.extend": {"de": "Team-Verlängerung", "en": "extend a team's deadline"},
    "jury.before_deadline": {
        "de": "Die Jury-Zuteilung geht erst nach dem Abgabeschluss",
        "en": "jurors can be assigned only after the deadline",
    },
    "jury.no_jurors": {
        "de": "Es gibt noch keine Jurorinnen und Juroren; importiert sie zuerst",
        "en": "there are no jurors yet; import them first",
    },
    "jury.not_assigned": {
        "de": "Die Einreichung {id} ist dir nicht zugeteilt",
        "en": "submission {id} is not assigned to you",
    },
    "jury.closed": {
        "de": "Die Bewertung ist abgeschlossen; nichts wurde geändert",
        "en": "judging is over; nothing was changed",
    },
    "jury.invalid": {
        "de": "Bitte korrigiere die markierten Bewertungen; nichts wurde gespeichert",
        "en": "please correct the marked scores; nothing was saved",
    },
    "jury.flagged_already": {
        "de": "Du hast diese Einreichung gemeldet; sie ging an jemand anderen",
        "en": "you flagged this submission; it went to someone else",
    },
    "jury.score_range": {
        "de": "{criterion}: eine ganze Zahl von {low} bis {high}",
        "en": "{criterion}: a whole number from {low} to {high}",
    },
    "jury.flag_reason": {
        "de": "Grund muss einer davon sein: {reasons}",
        "en": "the reason must be one of {reasons}",
    },
    "jury.top_positive": {"de": "top muss mindestens 1 sein", "en": "top must be at least 1"},
    "jury.selected": {
        "de": "🎉 Glückwunsch, {name}! Ihr seid für das Umsetzungsprogramm ausgewählt (Platz {rank}). Das Orga-Team meldet sich mit den nächsten Schritten.",
        "en": "🎉 Congratulations, {name}! You are selected for the implementation programme (rank {rank}). The organisers will be in touch with the next steps.",
    },
    "jury.not_selected": {
        "de": "Danke, {name}, für eure Einreichung. Diesmal seid ihr nicht für das Umsetzungsprogramm ausgewählt; eure Arbeit bleibt sichtbar, und wir hoffen, ihr macht weiter.",
        "en": "Thank you, {name}, for your submission. This time you are not selected for the implementation programme; your work stays visible, and we hope you carry on.",
    },
    "stats.participants": {"de": "Teilnehmende", "en": "Participants"},
    "stats.teams": {"de": "Teams", "en": "Teams"},
    "stats.pool": {"de": "im Matching-Pool", "en": "in the matching pool"},
    "stats.submissions": {"de": "Einreichungen", "en": "Submissions"},
    "stats.outbox": {"de": "Nachrichten in der Warteschlange", "en": "Messages waiting"},
    "expert.gone": {
        "de": "Diese Expertin / diesen Experten gibt es nicht mehr",
        "en": "this expert no longer exists",
    },
    "slot.in_past": {"de": "Der Beginn liegt in der Vergangenheit", "en": "the start is in the past"},
    "slot.end_first": {
        "de": "Das Ende muss nach dem Beginn liegen",
        "en": "the end must come after the start",
    },
    "slot.after_event": {
        "de": "Das Ende liegt nach dem Ende des Events",
        "en": "the end is after the event ends",
    },
    "slot.length": {
        "de": "Die Länge muss zwischen {low} und {high} Minuten liegen",
        "en": "the length must be from {low} to {high} minutes",
    },
    "slot.too_long": {
        "de": "Ein einzelner Termin dauert höchstens {high} Minuten; gib eine Länge an, um ihn zu teilen",
        "en": "a single slot lasts at most {high} minutes; give a length to cut the block into slots",
    },
    "slot.buffer": {
        "de": "Der Puffer liegt zwischen 0 und {high} Minuten",
        "en": "the buffer is from 0 to {high} minutes",
    },
    "slot.daily_limit": {
        "de": "Höchstens pro Tag: eine ganze Zahl von 1 bis {high}, oder leer",
        "en": "at most per day: a whole number from 1 to {high}, or empty",
    },
    "slot.topic": {"de": "Wähle eines deiner Themen: {topics}", "en": "pick one of your topics: {topics}"},
    "slot.none_fit": {
        "de": "In diese Zeit passt kein Termin dieser Länge",
        "en": "no slot of this length fits between start and end",
    },
    "slot.too_many": {
        "de": "Das wären {n} Termine; höchstens {high} auf einmal",
        "en": "that would be {n} slots; at most {high} at once",
    },
    "slot.overlap": {
        "de": "Überschneidet sich mit deinem Termin um {at}",
        "en": "overlaps your slot at {at}",
    },
    "slot.gone": {"de": "Diesen Termin gibt es nicht", "en": "there is no such slot"},
    "slot.booked": {
        "de": "Dieser Termin ist gebucht; nur freie Termine lassen sich zurückziehen",
        "en": "this slot is booked; only free slots can be withdrawn",
    },
    "booking.question_missing": {
        "de": "Schreib in einer Zeile, worum es gehen soll",
        "en": "say in one line what you want to ask",
    },
    "booking.team_gone": {"de": "Dieses Team gibt es nicht mehr", "en": "this team no longer exists"},
    "booking.slot_gone": {
        "de": "Diesen Termin gibt es nicht (mehr); wähle einen anderen",
        "en": "this slot is not offered (any more); pick another",
    },
    "booking.past": {"de": "Dieser Termin hat schon begonnen", "en": "this slot has already begun"},
    "booking.cutoff": {
        "de": "Termine lassen sich bis {minutes} Minuten vor Beginn buchen",
        "en": "slots can be booked until {minutes} minutes before they begin",
    },
    "booking.taken": {
        "de": "Jemand war schneller: dieser Termin ist schon gebucht",
        "en": "someone was quicker: this slot is already booked",
    },
    "booking.limit": {
        "de": "Dein Team hat schon {n} kommende Termine; sage einen ab oder verschiebe ihn",
        "en": "your team already holds {n} coming slots; cancel or reschedule one",
    },
    "booking.overlap": {
        "de": "Dein Team hat zu dieser Zeit schon einen Termin",
        "en": "your team already has a slot at that time",
    },
    "booking.day_full": {
        "de": "Diese Person nimmt an dem Tag keine weiteren Buchungen an",
        "en": "this expert takes no more bookings that day",
    },
    "booking.gone": {"de": "Diese Buchung gibt es nicht (mehr)", "en": "there is no such booking (any more)"},
    "booking.change_cutoff": {
        "de": "Absagen und Verschieben geht nur bis {minutes} Minuten vor Beginn",
        "en": "cancelling and rescheduling close {minutes} minutes before the slot",
    },
    "booking.not_begun": {
        "de": "Nicht erschienen lässt sich erst ab Beginn des Termins markieren",
        "en": "a no-show can be marked once the slot has begun",
    },
    "booking.made.team": {
        "de": "Gebucht: {expert_name}, {when}. Frage: {question}\nVideo-Link: {join}\nKalender: {ics}",
        "en": "Booked: {expert_name}, {when}. Question: {question}\nJoin: {join}\nCalendar: {ics}",
    },
    "booking.made.expert": {
        "de": "Neue Buchung: Team {team_name}, {when}. Frage: {question}",
        "en": "New booking: team {team_name}, {when}. Question: {question}",
    },
    "booking.rescheduled.team": {
        "de": "Verschoben: {expert_name}, jetzt {when}. Frage: {question}\nVideo-Link: {join}\nKalender: {ics}",
        "en": "Rescheduled: {expert_name}, now {when}. Question: {question}\nJoin: {join}\nCalendar: {ics}",
    },
    "booking.rescheduled.expert": {
        "de": "Team {team_name} hat auf {when} verschoben. Frage: {question}",
        "en": "Team {team_name} moved to {when}. Question: {question}",
    },
    "booking.cancelled.team": {
        "de": "Abgesagt: {expert_name}, {when}",
        "en": "Cancelled: {expert_name}, {when}",
    },
    "booking.cancelled.expert": {
        "de": "Team {team_name} hat {when} abgesagt; der Termin ist wieder frei",
        "en": "Team {team_name} cancelled {when}; the slot is free again",
    },
    "reminder.team": {
        "de": "In {minutes} Minuten: {expert_name}, {when}. Video-Link: {join}",
        "en": "In {minutes} minutes: {expert_name}, {when}. Join: {join}",
    },
    "reminder.expert": {
        "de": "In {minutes} Minuten: Team {team_name}, {when}. Frage: {question}",
        "en": "In {minutes} minutes: team {team_name}, {when}. Question: {question}",
    },
    "experts.none": {
        "de": "Gerade hat niemand{topic} freie Termine. Versuch es später noch einmal.",
        "en": "Nobody{topic} has free slots right now. Try again later.",
    },
    "experts.about": {"de": " zu „{topic}“", "en": " on “{topic}”"},
    "experts.title": {"de": "Expert:innen mit freien Terminen", "en": "Experts with free slots"},
    "experts.line": {
        "de": "• *{name}* ({topics}; {languages}) — {free} frei, ab {first}",
        "en": "• *{name}* ({topics}; {languages}) — {free} free, from {first}",
    },
    "experts.book_hint": {
        "de": "Buche für dein Team über diesen Link (gib ihn nur im Team weiter):",
        "en": "Book for your team through this link (share it only within your team):",
    },
    "experts.book_link": {"de": "Termin buchen", "en": "Book a slot"},
    "experts.no_team": {
        "de": "Termine bucht ein Team. Gründe eins (`/hack team create <name>`) oder tritt einem bei.",
        "en": "Slots are booked by teams. Create one (`/hack team create <name>`) or join one first.",
    },
    "help.usage": {
        "de": "Schreib ein Thema und deine Frage: `/hack help-request recht Dürfen wir Fotos zeigen?`",
        "en": "Give a topic and your question: `/hack help-request law May we show photos?`",
    },
    "help.already_open": {
        "de": "Dein Team hat schon eine offene Frage; warte auf Antwort oder ziehe sie zurück: `/hack help-request cancel`",
        "en": "your team already has an open question; wait for an answer or withdraw it: `/hack help-request cancel`",
    },
    "help.no_team": {
        "de": "Schnelle Fragen stellt ein Team. Gründe eins (`/hack team create <name>`) oder tritt einem bei.",
        "en": "Quick questions are asked by teams. Create one (`/hack team create <name>`) or join one first.",
    },
    "help.none_open": {"de": "Dein Team hat keine offene Frage", "en": "your team has no open question"},
    "help.taken": {
        "de": "Diese Frage hat schon jemand übernommen oder das Team hat sie zurückgezogen",
        "en": "someone has already taken this question, or the team withdrew it",
    },
    "help.asked": {
        "de": "Deine Frage ist bei {n} Expert:innen zu „{topic}“. Wer sie übernimmt, meldet sich im Team-Kanal.",
        "en": "Your question went to {n} experts on “{topic}”. Whoever takes it will say so in your team channel.",
    },
    "help.cancelled": {"de": "Deine Frage ist zurückgezogen.", "en": "Your question is withdrawn."},
    "help.claimed_team": {
        "de": "{expert_name} übernimmt eure Frage „{question}“ (nach {minutes} Min.). Treffpunkt: {join}",
        "en": "{expert_name} takes your question “{question}” (after {minutes} min). Meet here: {join}",
    },
    "help.posted_expert": {
        "de": "Frage von Team {team_name} zu „{topic}“: {question} — übernimm sie auf deiner Seite.",
        "en": "Question from team {team_name} on “{topic}”: {question} — take it on your page.",
    },
    "help.escalated_expert": {
        "de": "Noch unbeantwortet: Team {team_name} fragt zu „{topic}“: {question} — kannst du helfen?",
        "en": "Still unanswered: team {team_name} asks on “{topic}”: {question} — can you help?",
    },
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


def say(language: str, key: str, /, **params: object) -> str:
    texts = MESSAGES[key]
    template = texts.get(language) or texts["en"]
    return template.format(**params) if params else template
