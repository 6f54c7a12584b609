"""What a requester reads, in their Slack locale: English, Swedish, Italian, Romanian.

``t(locale, key, **params)`` picks the language from a Slack locale ("sv-SE" -> sv); anything
else, and any key without a translation, is English. Templates are mrkdwn: a parameter that
carries user- or backend-supplied text (a device's name, serial number or id, an email, a typed
query, a backend's failure detail, an OS version) must be filled with ``blocks.literal`` by the
caller, which shows it in a code span of its own; our own words with ``blocks.esc``. The
Intune documentation's own terms are used: Swedish "lösenkod", Italian "passcode", Romanian
"cod de acces"."""

from __future__ import annotations

LANGUAGES = ("en", "sv", "it", "ro")


def language(locale: str | None) -> str:
    """'sv-SE' -> 'sv', 'it_IT' -> 'it'; unknown or empty -> 'en'."""
    code = str(locale or "").replace("_", "-").split("-", 1)[0].strip().lower()
    return code if code in LANGUAGES else "en"


def t(locale: str | None, key: str, **params: object) -> str:
    """The message ``key`` in the locale's language (English when there is no translation)."""
    entry = CATALOG.get(key)
    if entry is None:
        raise KeyError(key)
    template = entry.get(language(locale)) or entry["en"]
    return template.format(**params) if params else template


def has(key: str) -> bool:
    return key in CATALOG


CATALOG: dict[str, dict[str, str]] = {
    # -- who may use the bot (policy.membership.NotMember) -------------------------------
    "member.unknown": {
        "en": "Slack did not tell me who you are, so I cannot act for you. Try again in a minute.",
        "sv": "Slack berättade inte vem du är, så jag kan inte agera åt dig. Försök igen om en "
              "minut.",
        "it": "Slack non mi ha detto chi sei, quindi non posso agire per te. Riprova tra un "
              "minuto.",
        "ro": "Slack nu mi-a spus cine ești, așa că nu pot acționa pentru tine. Încearcă din nou "
              "peste un minut.",
    },
    "member.deleted": {
        "en": "This Slack account is deactivated, so it cannot use passcode-bot.",
        "sv": "Det här Slack-kontot är inaktiverat och kan inte använda passcode-bot.",
        "it": "Questo account Slack è disattivato e non può usare passcode-bot.",
        "ro": "Acest cont Slack este dezactivat și nu poate folosi passcode-bot.",
    },
    "member.bot": {
        "en": "Bots and apps cannot use passcode-bot.",
        "sv": "Botar och appar kan inte använda passcode-bot.",
        "it": "Bot e app non possono usare passcode-bot.",
        "ro": "Boții și aplicațiile nu pot folosi passcode-bot.",
    },
    "member.guest": {
        "en": "Guest accounts cannot request or approve passcode resets. Ask your helpdesk.",
        "sv": "Gästkonton kan inte begära eller godkänna återställning av lösenkod. Fråga din "
              "helpdesk.",
        "it": "Gli account ospite non possono richiedere né approvare il ripristino del "
              "passcode. Chiedi al tuo helpdesk.",
        "ro": "Conturile de invitat nu pot solicita sau aproba resetarea codului de acces. "
              "Întreabă helpdesk-ul.",
    },
    "member.stranger": {
        "en": "passcode-bot serves the members of its own organisation only; people of other "
              "organisations cannot request or approve passcode resets here.",
        "sv": "passcode-bot betjänar bara medlemmar i den egna organisationen; personer från "
              "andra organisationer kan inte begära eller godkänna återställningar här.",
        "it": "passcode-bot serve solo i membri della propria organizzazione; le persone di "
              "altre organizzazioni non possono richiedere né approvare ripristini qui.",
        "ro": "passcode-bot servește doar membrii propriei organizații; persoanele din alte "
              "organizații nu pot solicita sau aproba resetări aici.",
    },
    "member.other_workspace": {
        "en": "passcode-bot serves the members of its own workspace only; people of other "
              "workspaces cannot request or approve passcode resets here.",
        "sv": "passcode-bot betjänar bara medlemmar i den egna arbetsytan; personer från andra "
              "arbetsytor kan inte begära eller godkänna återställningar här.",
        "it": "passcode-bot serve solo i membri del proprio workspace; le persone di altri "
              "workspace non possono richiedere né approvare ripristini qui.",
        "ro": "passcode-bot servește doar membrii propriului spațiu de lucru; persoanele din "
              "alte spații de lucru nu pot solicita sau aproba resetări aici.",
    },
    "member.no_email": {
        "en": "Slack did not give me your email address, so I cannot match you to your devices "
              "or roles.",
        "sv": "Slack gav mig inte din e-postadress, så jag kan inte koppla dig till dina enheter "
              "eller roller.",
        "it": "Slack non mi ha dato il tuo indirizzo email, quindi non posso associarti ai tuoi "
              "dispositivi o ruoli.",
        "ro": "Slack nu mi-a dat adresa ta de email, așa că nu te pot asocia cu dispozitivele "
              "sau rolurile tale.",
    },
    "member.unconfirmed_email": {
        "en": "Your Slack account's email address is not confirmed, so I cannot match you to "
              "your devices or roles. Confirm it in Slack, then try again.",
        "sv": "E-postadressen för ditt Slack-konto är inte bekräftad, så jag kan inte koppla dig "
              "till dina enheter eller roller. Bekräfta den i Slack och försök igen.",
        "it": "L'indirizzo email del tuo account Slack non è confermato, quindi non posso "
              "associarti ai tuoi dispositivi o ruoli. Confermalo in Slack, poi riprova.",
        "ro": "Adresa de email a contului tău Slack nu este confirmată, așa că nu te pot asocia "
              "cu dispozitivele sau rolurile tale. Confirm-o în Slack, apoi încearcă din nou.",
    },
    "slow_down": {
        "en": "You are sending me requests faster than I answer them. Wait a minute, then try "
              "again.",
        "sv": "Du skickar förfrågningar snabbare än jag hinner svara. Vänta en minut och försök "
              "igen.",
        "it": "Mi stai inviando richieste più velocemente di quanto possa rispondere. Attendi "
              "un minuto, poi riprova.",
        "ro": "Îmi trimiți cereri mai repede decât pot răspunde. Așteaptă un minut, apoi "
              "încearcă din nou.",
    },
    # -- results and scopes --------------------------------------------------------------
    "result.temporary_passcode": {
        "en": "a temporary passcode",
        "sv": "en tillfällig lösenkod",
        "it": "un passcode temporaneo",
        "ro": "un cod de acces temporar",
    },
    "result.new_passcode": {
        "en": "a new passcode",
        "sv": "en ny lösenkod",
        "it": "un nuovo passcode",
        "ro": "un cod de acces nou",
    },
    "result.passcode_removed": {
        "en": "passcode removed (no new passcode)",
        "sv": "lösenkoden tas bort (ingen ny lösenkod)",
        "it": "passcode rimosso (nessun nuovo passcode)",
        "ro": "codul de acces eliminat (fără un cod de acces nou)",
    },
    "result.new_pin": {
        "en": "a new PIN",
        "sv": "en ny PIN-kod",
        "it": "un nuovo PIN",
        "ro": "un PIN nou",
    },
    "scope.device": {
        "en": "whole device",
        "sv": "hela enheten",
        "it": "intero dispositivo",
        "ro": "întregul dispozitiv",
    },
    "scope.work_profile": {
        "en": "work profile only",
        "sv": "endast arbetsprofilen",
        "it": "solo il profilo di lavoro",
        "ro": "doar profilul de serviciu",
    },
    "unknown": {"en": "unknown", "sv": "okänt", "it": "sconosciuto", "ro": "necunoscut"},
    "summary": {
        "en": "*Device:* {name}\n*Serial number:* {serial}\n*Intune device id:* {id}"
              "\n*Platform:* {platform}\n*Scope:* {scope}\n*Expected result:* {expected}",
        "sv": "*Enhet:* {name}\n*Serienummer:* {serial}\n*Intune-enhets-id:* {id}"
              "\n*Plattform:* {platform}\n*Omfattning:* {scope}\n*Förväntat resultat:* {expected}",
        "it": "*Dispositivo:* {name}\n*Numero di serie:* {serial}\n*ID dispositivo Intune:* {id}"
              "\n*Piattaforma:* {platform}\n*Ambito:* {scope}\n*Risultato previsto:* {expected}",
        "ro": "*Dispozitiv:* {name}\n*Număr de serie:* {serial}\n*ID dispozitiv Intune:* {id}"
              "\n*Platformă:* {platform}\n*Domeniu:* {scope}\n*Rezultat așteptat:* {expected}",
    },
    # -- the waiting DM and its decision line ----------------------------------------------
    "dm.waiting": {
        "en": "Your passcode reset of {name} is waiting for approval ({id}).",
        "sv": "Din återställning av lösenkoden för {name} väntar på godkännande ({id}).",
        "it": "La reimpostazione del passcode di {name} è in attesa di approvazione ({id}).",
        "ro": "Resetarea codului de acces pentru {name} așteaptă aprobarea ({id}).",
    },
    "dm.title": {
        "en": "Your passcode reset of {name} ({id})",
        "sv": "Din återställning av lösenkoden för {name} ({id})",
        "it": "La reimpostazione del passcode di {name} ({id})",
        "ro": "Resetarea codului de acces pentru {name} ({id})",
    },
    "button.cancel": {
        "en": "Cancel request",
        "sv": "Avbryt begäran",
        "it": "Annulla richiesta",
        "ro": "Anulează cererea",
    },
    "by": {"en": " by {who}", "sv": " av {who}", "it": " da {who}", "ro": " de {who}"},
    "dm.denied": {
        "en": ":no_entry: Your request was denied{by}. Talk to the helpdesk if you still need "
              "help.",
        "sv": ":no_entry: Din begäran avslogs{by}. Kontakta helpdesk om du fortfarande behöver "
              "hjälp.",
        "it": ":no_entry: La tua richiesta è stata rifiutata{by}. Rivolgiti all'helpdesk se hai "
              "ancora bisogno di aiuto.",
        "ro": ":no_entry: Cererea ta a fost respinsă{by}. Contactează helpdeskul dacă mai ai "
              "nevoie de ajutor.",
    },
    "dm.cancelled": {
        "en": ":leftwards_arrow_with_hook: You cancelled this request.",
        "sv": ":leftwards_arrow_with_hook: Du avbröt den här begäran.",
        "it": ":leftwards_arrow_with_hook: Hai annullato questa richiesta.",
        "ro": ":leftwards_arrow_with_hook: Ai anulat această cerere.",
    },
    "dm.expired": {
        "en": ":alarm_clock: Nobody decided this request in time, so it expired. Ask again if "
              "needed.",
        "sv": ":alarm_clock: Ingen tog ställning till den här begäran i tid, så den har gått ut. "
              "Fråga igen vid behov.",
        "it": ":alarm_clock: Nessuno ha deciso su questa richiesta in tempo, quindi è scaduta. "
              "Richiedi di nuovo se necessario.",
        "ro": ":alarm_clock: Nimeni nu a decis asupra acestei cereri la timp, așa că a expirat. "
              "Cere din nou dacă este nevoie.",
    },
    "dm.approved": {
        "en": ":white_check_mark: Approved{by}. The reset is running; the result follows here.",
        "sv": ":white_check_mark: Godkänd{by}. Återställningen pågår; resultatet kommer här.",
        "it": ":white_check_mark: Approvata{by}. La reimpostazione è in corso; il risultato "
              "arriverà qui.",
        "ro": ":white_check_mark: Aprobată{by}. Resetarea este în curs; rezultatul va apărea aici.",
    },
    # -- failure hints ---------------------------------------------------------------------
    "hint.reset_token_not_activated": {
        "en": "The work profile's passcode reset token was never activated. On the device, open "
              "the notification asking you to activate passcode reset (it appears when a "
              "work-profile password is required and set), then ask again.",
        "sv": "Arbetsprofilens token för återställning av lösenkoden har aldrig aktiverats. Öppna "
              "aviseringen på enheten som ber dig aktivera återställning av lösenkoden (den visas "
              "när ett lösenord för arbetsprofilen krävs och har angetts) och fråga sedan igen.",
        "it": "Il token di reimpostazione del passcode del profilo di lavoro non è mai stato "
              "attivato. Sul dispositivo, apri la notifica che chiede di attivare la "
              "reimpostazione del passcode (compare quando una password del profilo di lavoro è "
              "richiesta e impostata), poi richiedi di nuovo.",
        "ro": "Tokenul de resetare a codului de acces al profilului de serviciu nu a fost activat "
              "niciodată. Pe dispozitiv, deschide notificarea care îți cere să activezi resetarea "
              "codului de acces (apare când o parolă pentru profilul de serviciu este necesară și "
              "a fost setată), apoi cere din nou.",
    },
    "hint.ios_unlock_token": {
        "en": "Intune may hold a wrong unlock token for this device. If the passcode cannot be "
              "removed, the device may have to be wiped to regain access; talk to the helpdesk.",
        "sv": "Intune kan ha en felaktig upplåsningstoken för den här enheten. Om lösenkoden inte "
              "kan tas bort kan enheten behöva rensas för att du ska få åtkomst igen; kontakta "
              "helpdesk.",
        "it": "Intune potrebbe avere un token di sblocco errato per questo dispositivo. Se il "
              "passcode non può essere rimosso, potrebbe essere necessario cancellare i dati del "
              "dispositivo per riottenere l'accesso; rivolgiti all'helpdesk.",
        "ro": "Intune poate deține un token de deblocare greșit pentru acest dispozitiv. Dacă "
              "codul de acces nu poate fi eliminat, poate fi necesară ștergerea dispozitivului "
              "pentru a recăpăta accesul; contactează helpdeskul.",
    },
    "hint.no_passcode_policy": {
        "en": "The device has no device passcode policy assigned; ask the helpdesk to assign one, "
              "then ask again.",
        "sv": "Enheten har ingen princip för enhetslösenord tilldelad; be helpdesk att tilldela "
              "en och fråga sedan igen.",
        "it": "Al dispositivo non è assegnato alcun criterio per il passcode del dispositivo; "
              "chiedi all'helpdesk di assegnarne uno, poi richiedi di nuovo.",
        "ro": "Dispozitivului nu i-a fost atribuită nicio politică pentru codul de acces; cere "
              "helpdeskului să atribuie una, apoi cere din nou.",
    },
    "failure.generic": {
        "en": "the device-management service reported a failure.",
        "sv": "tjänsten för enhetshantering rapporterade ett fel.",
        "it": "il servizio di gestione dei dispositivi ha segnalato un errore.",
        "ro": "serviciul de gestionare a dispozitivelor a raportat o eroare.",
    },
    # -- the result DM ---------------------------------------------------------------------
    "result.failed": {
        "en": "The passcode reset of {name} failed ({id}).",
        "sv": "Återställningen av lösenkoden för {name} misslyckades ({id}).",
        "it": "La reimpostazione del passcode di {name} non è riuscita ({id}).",
        "ro": "Resetarea codului de acces pentru {name} a eșuat ({id}).",
    },
    "result.expired": {
        "en": "The passcode for {name} expired and was deleted ({id}).",
        "sv": "Lösenkoden för {name} har gått ut och raderats ({id}).",
        "it": "Il passcode di {name} è scaduto ed è stato eliminato ({id}).",
        "ro": "Codul de acces pentru {name} a expirat și a fost șters ({id}).",
    },
    "result.expired.more": {
        "en": "Ask for a new reset if you still need one.",
        "sv": "Begär en ny återställning om du fortfarande behöver en.",
        "it": "Richiedi una nuova reimpostazione se ne hai ancora bisogno.",
        "ro": "Cere o nouă resetare dacă mai ai nevoie.",
    },
    "result.ready": {
        "en": "{kind} for {name} is ready ({id}).",
        "sv": "{kind} för {name} är klar ({id}).",
        "it": "{kind} per {name} è pronto ({id}).",
        "ro": "{kind} pentru {name} este gata ({id}).",
    },
    "result.type.device": {
        "en": "Type it on the device to unlock it.",
        "sv": "Ange den på enheten för att låsa upp den.",
        "it": "Digitalo sul dispositivo per sbloccarlo.",
        "ro": "Introdu-l pe dispozitiv pentru a-l debloca.",
    },
    "result.type.work_profile": {
        "en": "Type it on the work profile to unlock it.",
        "sv": "Ange den i arbetsprofilen för att låsa upp den.",
        "it": "Digitalo nel profilo di lavoro per sbloccarlo.",
        "ro": "Introdu-l în profilul de serviciu pentru a-l debloca.",
    },
    "result.only_you": {
        "en": "Only you can see it, until {until}.",
        "sv": "Bara du kan se den, till och med {until}.",
        "it": "Solo tu puoi vederlo, fino al {until}.",
        "ro": "Doar tu îl poți vedea, până la {until}.",
    },
    "button.show": {
        "en": "Show passcode",
        "sv": "Visa lösenkoden",
        "it": "Mostra passcode",
        "ro": "Arată codul de acces",
    },
    "result.removed": {
        "en": "The passcode of {name} was removed ({id}).",
        "sv": "Lösenkoden för {name} har tagits bort ({id}).",
        "it": "Il passcode di {name} è stato rimosso ({id}).",
        "ro": "Codul de acces pentru {name} a fost eliminat ({id}).",
    },
    "result.removed.more": {
        "en": "The device unlocks without a passcode now. If a passcode policy applies to it, the "
              "device will ask the user to set a new passcode.",
        "sv": "Enheten låses nu upp utan lösenkod. Om en princip för enhetslösenord gäller för "
              "den ber enheten användaren att ange en ny lösenkod.",
        "it": "Ora il dispositivo si sblocca senza passcode. Se al dispositivo si applica un "
              "criterio per il passcode, chiederà all'utente di impostarne uno nuovo.",
        "ro": "Dispozitivul se deblochează acum fără cod de acces. Dacă i se aplică o politică "
              "pentru codul de acces, dispozitivul îi va cere utilizatorului să seteze un cod de "
              "acces nou.",
    },
    "result.none": {
        "en": "The reset of {name} completed, but Intune returned no passcode ({id}).",
        "sv": "Återställningen av {name} slutfördes, men Intune returnerade ingen lösenkod ({id}).",
        "it": "La reimpostazione di {name} è stata completata, ma Intune non ha restituito alcun "
              "passcode ({id}).",
        "ro": "Resetarea pentru {name} s-a încheiat, dar Intune nu a returnat niciun cod de acces "
              "({id}).",
    },
    "result.none.more": {
        "en": "Ask the helpdesk to check the Intune admin center.",
        "sv": "Be helpdesk att kontrollera enheten i administrationscentret för Intune.",
        "it": "Chiedi all'helpdesk di controllare l'interfaccia di amministrazione di Intune.",
        "ro": "Cere helpdeskului să verifice centrul de administrare Intune.",
    },
    # -- modals ----------------------------------------------------------------------------
    "modal.passcode.title": {
        "en": "Your passcode",
        "sv": "Din lösenkod",
        "it": "Il tuo passcode",
        "ro": "Codul tău de acces",
    },
    "modal.done": {"en": "Done", "sv": "Klar", "it": "Fatto", "ro": "Gata"},
    "modal.close": {"en": "Close", "sv": "Stäng", "it": "Chiudi", "ro": "Închide"},
    "modal.passcode.device": {
        "en": "*Device:* {name} ({id})",
        "sv": "*Enhet:* {name} ({id})",
        "it": "*Dispositivo:* {name} ({id})",
        "ro": "*Dispozitiv:* {name} ({id})",
    },
    "modal.passcode.type.device": {
        "en": "Type this on the device to unlock it. Android may ask you to choose a new passcode "
              "right after.",
        "sv": "Ange den här på enheten för att låsa upp den. Android kan be dig välja en ny "
              "lösenkod direkt efteråt.",
        "it": "Digitalo sul dispositivo per sbloccarlo. Subito dopo Android potrebbe chiederti di "
              "scegliere un nuovo passcode.",
        "ro": "Introdu-l pe dispozitiv pentru a-l debloca. Imediat după aceea, Android îți poate "
              "cere să alegi un cod de acces nou.",
    },
    "modal.passcode.type.work_profile": {
        "en": "Type this on the work profile to unlock it. Android may ask you to choose a new "
              "passcode right after.",
        "sv": "Ange den här i arbetsprofilen för att låsa upp den. Android kan be dig välja en ny "
              "lösenkod direkt efteråt.",
        "it": "Digitalo nel profilo di lavoro per sbloccarlo. Subito dopo Android potrebbe "
              "chiederti di scegliere un nuovo passcode.",
        "ro": "Introdu-l în profilul de serviciu pentru a-l debloca. Imediat după aceea, Android "
              "îți poate cere să alegi un cod de acces nou.",
    },
    "modal.passcode.until": {
        "en": "Available until {until}. Do not share it.",
        "sv": "Tillgänglig till och med {until}. Dela den inte med någon.",
        "it": "Disponibile fino al {until}. Non condividerlo.",
        "ro": "Disponibil până la {until}. Nu îl partaja.",
    },
    # Slack allows at most 24 characters in a modal title.
    "modal.unavailable.title": {
        "en": "Passcode unavailable",
        "sv": "Lösenkoden saknas",
        "it": "Passcode non disponibile",
        "ro": "Cod indisponibil",
    },
    "reveal.not_shown": {  # {button}: the button's own label (button.show)
        "en": "The passcode window could not be opened, so nothing was shown. Click {button} "
              "again.",
        "sv": "Fönstret med lösenkoden kunde inte öppnas, så inget visades. Klicka på {button} "
              "igen.",
        "it": "Non è stato possibile aprire la finestra del passcode, quindi non è stato "
              "mostrato nulla. Fai di nuovo clic su {button}.",
        "ro": "Fereastra cu codul de acces nu a putut fi deschisă, deci nu s-a afișat nimic. "
              "Apasă din nou {button}.",
    },
    "unavailable.unknown_request": {
        "en": "That request does not exist.",
        "sv": "Den begäran finns inte.",
        "it": "Questa richiesta non esiste.",
        "ro": "Această cerere nu există.",
    },
    "unavailable.not_requester": {
        "en": "Only the person who asked for this reset can see its passcode.",
        "sv": "Bara den som begärde den här återställningen kan se lösenkoden.",
        "it": "Solo chi ha richiesto questa reimpostazione può vederne il passcode.",
        "ro": "Doar persoana care a cerut această resetare îi poate vedea codul de acces.",
    },
    "unavailable.expired": {
        "en": "This passcode expired 7 days after it was issued and has been deleted. Ask for a "
              "new reset if you still need one.",
        "sv": "Lösenkoden gick ut 7 dagar efter att den utfärdades och har raderats. Begär en ny "
              "återställning om du fortfarande behöver en.",
        "it": "Questo passcode è scaduto 7 giorni dopo l'emissione ed è stato eliminato. Richiedi "
              "una nuova reimpostazione se ne hai ancora bisogno.",
        "ro": "Acest cod de acces a expirat la 7 zile după emitere și a fost șters. Cere o nouă "
              "resetare dacă mai ai nevoie.",
    },
    "unavailable.open": {
        "en": "The reset has not finished yet; you will get a message when it has.",
        "sv": "Återställningen är inte klar än; du får ett meddelande när den är det.",
        "it": "La reimpostazione non è ancora terminata; riceverai un messaggio quando lo sarà.",
        "ro": "Resetarea nu s-a încheiat încă; vei primi un mesaj când se încheie.",
    },
    "unavailable.none": {
        "en": "This reset did not produce a passcode.",
        "sv": "Den här återställningen gav ingen lösenkod.",
        "it": "Questa reimpostazione non ha prodotto alcun passcode.",
        "ro": "Această resetare nu a produs un cod de acces.",
    },
    # -- the device picker -----------------------------------------------------------------
    "picker.title": {
        "en": "Passcode reset",
        "sv": "Återställ lösenkod",
        "it": "Reimposta passcode",
        "ro": "Resetare cod de acces",
    },
    "picker.submit": {
        "en": "Request reset",
        "sv": "Begär återställning",
        "it": "Richiedi",
        "ro": "Solicită resetarea",
    },
    "picker.cancel": {"en": "Cancel", "sv": "Avbryt", "it": "Annulla", "ro": "Anulează"},
    "picker.device": {"en": "Device", "sv": "Enhet", "it": "Dispositivo", "ro": "Dispozitiv"},
    "picker.placeholder": {
        "en": "Name or serial number",
        "sv": "Namn eller serienummer",
        "it": "Nome o numero di serie",
        "ro": "Nume sau număr de serie",
    },
    "picker.note": {
        "en": "An approver has to agree before the reset runs.",
        "sv": "En godkännare måste godkänna innan återställningen körs.",
        "it": "Un approvatore deve dare il consenso prima che la reimpostazione venga eseguita.",
        "ro": "Un aprobator trebuie să fie de acord înainte ca resetarea să înceapă.",
    },
    "picker.pick": {
        "en": "Pick a device.",
        "sv": "Välj en enhet.",
        "it": "Scegli un dispositivo.",
        "ro": "Alege un dispozitiv.",
    },
    # -- help ------------------------------------------------------------------------------
    "help": {
        "en": "*/passcode reset &lt;device&gt;* — ask for a passcode reset (device name, serial "
              "number or Intune device id)\n*/passcode reset* — pick the device from a list\n"
              "*/passcode status [request id]* — where your requests stand\n*/passcode help* — "
              "this help",
        "sv": "*/passcode reset &lt;enhet&gt;* — begär återställning av lösenkoden (enhetens namn, "
              "serienummer eller Intune-enhets-id)\n*/passcode reset* — välj enheten i en lista\n"
              "*/passcode status [begärans id]* — hur det går med dina begäranden\n"
              "*/passcode help* — den här hjälpen",
        "it": "*/passcode reset &lt;dispositivo&gt;* — richiedi la reimpostazione del passcode "
              "(nome del dispositivo, numero di serie o ID dispositivo Intune)\n*/passcode reset* "
              "— scegli il dispositivo da un elenco\n*/passcode status [ID richiesta]* — lo stato "
              "delle tue richieste\n*/passcode help* — questa guida",
        "ro": "*/passcode reset &lt;dispozitiv&gt;* — cere resetarea codului de acces (numele "
              "dispozitivului, numărul de serie sau ID-ul dispozitivului Intune)\n"
              "*/passcode reset* — alege dispozitivul dintr-o listă\n*/passcode status [ID "
              "cerere]* — stadiul cererilor tale\n*/passcode help* — acest ajutor",
    },
    "too_long": {
        "en": "That is too long ({n} characters). Try `/passcode reset &lt;device name&gt;`.",
        "sv": "Det är för långt ({n} tecken). Försök med `/passcode reset &lt;enhetens namn&gt;`.",
        "it": "È troppo lungo ({n} caratteri). Prova "
              "`/passcode reset &lt;nome del dispositivo&gt;`.",
        "ro": "Este prea lung ({n} caractere). Încearcă "
              "`/passcode reset &lt;numele dispozitivului&gt;`.",
    },
    # -- command replies (English comes from the service's own message) --------------------
    "reply.created": {
        "en": "Request {id}: a passcode reset of {name} is waiting for an approver. You will get "
              "a direct message when it is decided.",
        "sv": "Begäran {id}: en återställning av lösenkoden för {name} väntar på en godkännare. "
              "Du får ett direktmeddelande när den har avgjorts.",
        "it": "Richiesta {id}: la reimpostazione del passcode di {name} è in attesa di un "
              "approvatore. Riceverai un messaggio diretto quando verrà decisa.",
        "ro": "Cererea {id}: resetarea codului de acces pentru {name} așteaptă un aprobator. Vei "
              "primi un mesaj direct când se ia o decizie.",
    },
    "reply.not_found": {
        "en": "No managed device is called {query}. Check the name, or use the serial number "
              "or Intune device id from the Company Portal app.",
        "sv": "Ingen hanterad enhet heter {query}. Kontrollera namnet, eller använd "
              "serienumret eller Intune-enhets-id:t från appen Företagsportal.",
        "it": "Nessun dispositivo gestito si chiama {query}. Controlla il nome, oppure usa il "
              "numero di serie o l'ID dispositivo Intune indicato nell'app Portale aziendale.",
        "ro": "Niciun dispozitiv gestionat nu se numește {query}. Verifică numele sau "
              "folosește numărul de serie ori ID-ul dispozitivului Intune din aplicația Portal "
              "companie.",
    },
    "reply.not_found.own": {
        "en": "No device of yours matches {query}. Check the name, or use the serial number or "
              "Intune device id from the Company Portal app. For someone else's device, ask the "
              "helpdesk.",
        "sv": "Ingen av dina enheter matchar {query}. Kontrollera namnet, eller använd "
              "serienumret eller Intune-enhets-id:t från appen Företagsportal. För någon annans "
              "enhet, kontakta helpdesk.",
        "it": "Nessuno dei tuoi dispositivi corrisponde a {query}. Controlla il nome, oppure "
              "usa il numero di serie o l'ID dispositivo Intune indicato nell'app Portale "
              "aziendale. Per il dispositivo di un'altra persona, rivolgiti all'helpdesk.",
        "ro": "Niciunul dintre dispozitivele tale nu corespunde cu {query}. Verifică numele "
              "sau folosește numărul de serie ori ID-ul dispozitivului Intune din aplicația "
              "Portal companie. Pentru dispozitivul altcuiva, contactează helpdeskul.",
    },
    "reply.ambiguous": {
        "en": "{n} devices match {query}; ask again with the serial number or Intune device id "
              "of the one you mean.",
        "sv": "{n} enheter matchar {query}; fråga igen med serienumret eller Intune-enhets-id:t "
              "för den du menar.",
        "it": "{n} dispositivi corrispondono a {query}; richiedi di nuovo indicando il numero "
              "di serie o l'ID dispositivo Intune di quello che intendi.",
        "ro": "{n} dispozitive corespund cu {query}; cere din nou folosind numărul de serie sau "
              "ID-ul dispozitivului Intune al celui la care te referi.",
    },
    "reply.not_found.own.picked": {
        "en": "No device of yours matches the one you picked. Pick it from the list again; for "
              "someone else's device, ask the helpdesk.",
        "sv": "Ingen av dina enheter matchar den du valde. Välj den i listan igen; för någon "
              "annans enhet, kontakta helpdesk.",
        "it": "Nessuno dei tuoi dispositivi corrisponde a quello scelto. Sceglilo di nuovo "
              "dall'elenco; per il dispositivo di un'altra persona, rivolgiti all'helpdesk.",
        "ro": "Niciunul dintre dispozitivele tale nu corespunde celui ales. Alege-l din nou din "
              "listă; pentru dispozitivul altcuiva, contactează helpdeskul.",
    },
    "reply.not_found.picked": {
        "en": "The device you picked is not managed by Intune any more. Pick it again from the "
              "list, or ask the helpdesk.",
        "sv": "Enheten du valde hanteras inte längre av Intune. Välj den igen i listan eller "
              "kontakta helpdesk.",
        "it": "Il dispositivo scelto non è più gestito da Intune. Sceglilo di nuovo dall'elenco "
              "oppure rivolgiti all'helpdesk.",
        "ro": "Dispozitivul ales nu mai este gestionat de Intune. Alege-l din nou din listă sau "
              "contactează helpdeskul.",
    },
    "reply.try_later": {
        "en": "The device service did not answer: {detail}",
        "sv": "Tjänsten för enhetshantering svarade inte: {detail}",
        "it": "Il servizio di gestione dei dispositivi non ha risposto: {detail}",
        "ro": "Serviciul de gestionare a dispozitivelor nu a răspuns: {detail}",
    },
    "reply.serial": {
        "en": "serial", "sv": "serienummer", "it": "numero di serie", "ro": "număr de serie",
    },
    "reply.already_open": {
        "en": "{name} already has a passcode reset in progress ({id}).",
        "sv": "{name} har redan en återställning av lösenkoden på gång ({id}).",
        "it": "Per {name} è già in corso una reimpostazione del passcode ({id}).",
        "ro": "Pentru {name} există deja o resetare a codului de acces în curs ({id}).",
    },
    "reply.limited.user": {
        "en": "You have asked for {cap} passcode resets in the last hour, the most allowed. Try "
              "again later, or ask the helpdesk.",
        "sv": "Du har begärt {cap} återställningar av lösenkoden den senaste timmen, vilket är "
              "det högsta tillåtna. Försök igen senare eller kontakta helpdesk.",
        "it": "Hai richiesto {cap} reimpostazioni del passcode nell'ultima ora, il massimo "
              "consentito. Riprova più tardi o rivolgiti all'helpdesk.",
        "ro": "Ai cerut {cap} resetări ale codului de acces în ultima oră, maximul permis. "
              "Încearcă din nou mai târziu sau contactează helpdeskul.",
    },
    "reply.limited.device": {
        "en": "{name} has had {cap} passcode reset requests in the last 24 hours, the most "
              "allowed. Ask the helpdesk to look at the device.",
        "sv": "{name} har haft {cap} begäranden om återställning av lösenkoden de senaste 24 "
              "timmarna, vilket är det högsta tillåtna. Be helpdesk att titta på enheten.",
        "it": "Per {name} sono state fatte {cap} richieste di reimpostazione del passcode nelle "
              "ultime 24 ore, il massimo consentito. Chiedi all'helpdesk di controllare il "
              "dispositivo.",
        "ro": "Pentru {name} s-au făcut {cap} cereri de resetare a codului de acces în ultimele "
              "24 de ore, maximul permis. Cere helpdeskului să verifice dispozitivul.",
    },
    "reply.invalid.empty": {
        "en": "Name the device: its name, serial number or Intune id.",
        "sv": "Ange enheten: dess namn, serienummer eller Intune-id.",
        "it": "Indica il dispositivo: il nome, il numero di serie o l'ID Intune.",
        "ro": "Numește dispozitivul: numele, numărul de serie sau ID-ul Intune.",
    },
    "reply.invalid.long": {
        "en": "That device name is too long ({n} characters); names, serial numbers and Intune "
              "ids are at most {max}.",
        "sv": "Enhetsnamnet är för långt ({n} tecken); namn, serienummer och Intune-id har högst "
              "{max} tecken.",
        "it": "Il nome del dispositivo è troppo lungo ({n} caratteri); nomi, numeri di serie e ID "
              "Intune hanno al massimo {max} caratteri.",
        "ro": "Numele dispozitivului este prea lung ({n} caractere); numele, numerele de serie și "
              "ID-urile Intune au cel mult {max} caractere.",
    },
    "refused.userless": {
        "en": "This is a shared device with no primary user; only the helpdesk can request a "
              "passcode reset for it.",
        "sv": "Det här är en delad enhet utan primär användare; bara helpdesk kan begära "
              "återställning av lösenkoden för den.",
        "it": "Questo è un dispositivo condiviso senza utente primario; solo l'helpdesk può "
              "richiederne la reimpostazione del passcode.",
        "ro": "Acesta este un dispozitiv partajat fără utilizator principal; doar helpdeskul poate "
              "cere resetarea codului de acces pentru el.",
    },
    "refused.not_yours": {
        "en": "This device is not registered to you. You can request a reset only for a device "
              "whose primary user is you; ask the helpdesk to request it for someone else.",
        "sv": "Den här enheten är inte registrerad på dig. Du kan bara begära återställning för "
              "en enhet där du är primär användare; be helpdesk att begära den åt någon annan.",
        "it": "Questo dispositivo non è registrato a tuo nome. Puoi richiedere la reimpostazione "
              "solo per un dispositivo di cui sei l'utente primario; per qualcun altro chiedi "
              "all'helpdesk.",
        "ro": "Acest dispozitiv nu este înregistrat pe numele tău. Poți cere o resetare doar "
              "pentru un dispozitiv al cărui utilizator principal ești tu; pentru altcineva cere "
              "helpdeskului.",
    },
    # -- platform refusals that are not a row's own reason (keys from the service) ------------
    "refused.unknown_os_version": {
        "en": "The device reports an unknown OS version ({version}).",
        "sv": "Enheten rapporterar en okänd version av operativsystemet ({version}).",
        "it": "Il dispositivo segnala una versione del sistema operativo sconosciuta ({version}).",
        "ro": "Dispozitivul raportează o versiune necunoscută a sistemului de operare ({version}).",
    },
    "refused.unknown_os_version.none": {
        "en": "none", "sv": "ingen", "it": "nessuna", "ro": "niciuna",
    },
    "refused.unknown_os_version.hint": {
        "en": "Ask the helpdesk to check the OS version Intune reports for this device; the bot "
              "will not guess which rule applies.",
        "sv": "Be helpdesk att kontrollera vilken version av operativsystemet Intune rapporterar "
              "för den här enheten; boten gissar inte vilken regel som gäller.",
        "it": "Chiedi all'helpdesk di controllare la versione del sistema operativo che Intune "
              "segnala per questo dispositivo; il bot non tira a indovinare quale regola si "
              "applica.",
        "ro": "Cere helpdeskului să verifice versiunea sistemului de operare pe care Intune o "
              "raportează pentru acest dispozitiv; botul nu va ghici ce regulă se aplică.",
    },
    "refused.old_os_version.device": {
        "en": "A device passcode reset on {label} needs Android {min}.0 or later; this device "
              "runs {version}.",
        "sv": "En återställning av enhetens lösenkod på {label} kräver Android {min}.0 eller "
              "senare; den här enheten kör {version}.",
        "it": "La reimpostazione del passcode del dispositivo su {label} richiede Android {min}.0 "
              "o versioni successive; su questo dispositivo è installata la versione {version}.",
        "ro": "Resetarea codului de acces al dispozitivului pe {label} necesită Android {min}.0 "
              "sau o versiune ulterioară; acest dispozitiv rulează versiunea {version}.",
    },
    "refused.old_os_version.work_profile": {
        "en": "A work-profile passcode reset on {label} needs Android {min}.0 or later; this "
              "device runs {version}.",
        "sv": "En återställning av arbetsprofilens lösenkod på {label} kräver Android {min}.0 "
              "eller senare; den här enheten kör {version}.",
        "it": "La reimpostazione del passcode del profilo di lavoro su {label} richiede Android "
              "{min}.0 o versioni successive; su questo dispositivo è installata la versione "
              "{version}.",
        "ro": "Resetarea codului de acces al profilului de serviciu pe {label} necesită Android "
              "{min}.0 sau o versiune ulterioară; acest dispozitiv rulează versiunea {version}.",
    },
    "refused.old_os_version.hint": {
        "en": "Update the device's Android version, or ask the helpdesk to wipe and re-provision "
              "it.",
        "sv": "Uppdatera enhetens Android-version, eller be helpdesk att rensa och konfigurera om "
              "den.",
        "it": "Aggiorna la versione di Android del dispositivo, oppure chiedi all'helpdesk di "
              "cancellarlo e riconfigurarlo.",
        "ro": "Actualizează versiunea de Android a dispozitivului sau cere helpdeskului să îl "
              "șteargă și să îl reconfigureze.",
    },
    # -- refused Approve / Deny / Cancel clicks (English comes from the service's message) ----
    "click.not_allowed.own_request": {
        "en": "You cannot approve or deny your own request; another approver has to decide it.",
        "sv": "Du kan inte godkänna eller avslå din egen begäran; en annan godkännare måste "
              "avgöra den.",
        "it": "Non puoi approvare né rifiutare una tua richiesta; deve deciderla un altro "
              "approvatore.",
        "ro": "Nu poți aproba sau respinge propria cerere; trebuie să decidă un alt aprobator.",
    },
    "click.not_allowed.no_role": {
        "en": "Only holders of one of these roles can approve or deny passcode resets: {roles}.",
        "sv": "Bara den som har någon av de här rollerna kan godkänna eller avslå återställningar "
              "av lösenkoder: {roles}.",
        "it": "Solo chi ha uno di questi ruoli può approvare o rifiutare le reimpostazioni del "
              "passcode: {roles}.",
        "ro": "Doar cei care au unul dintre aceste roluri pot aproba sau respinge resetările "
              "codului de acces: {roles}.",
    },
    "click.not_allowed.not_requester": {
        "en": "Only the person who asked for this reset can cancel it.",
        "sv": "Bara den som begärde den här återställningen kan avbryta den.",
        "it": "Solo chi ha richiesto questa reimpostazione può annullarla.",
        "ro": "Doar persoana care a cerut această resetare o poate anula.",
    },
    "click.expired": {
        "en": "This request expired before it was decided.",
        "sv": "Den här begäran gick ut innan den avgjordes.",
        "it": "Questa richiesta è scaduta prima che venisse decisa.",
        "ro": "Această cerere a expirat înainte să se ia o decizie.",
    },
    "click.try_later": {
        "en": "Your role could not be checked right now; try again.",
        "sv": "Din roll kunde inte kontrolleras just nu; försök igen.",
        "it": "Al momento non è stato possibile verificare il tuo ruolo; riprova.",
        "ro": "Rolul tău nu a putut fi verificat acum; încearcă din nou.",
    },
    "click.already_decided": {
        "en": "Request {id} was already decided: it is {state}{by}.",
        "sv": "Begäran {id} har redan avgjorts. Status: {state}{by}.",
        "it": "La richiesta {id} è già stata decisa. Stato: {state}{by}.",
        "ro": "Cererea {id} a fost deja decisă. Stare: {state}{by}.",
    },
    # -- the device's owner, when someone else asked for a reset of their device -------------
    # Never the passcode, never a button: it goes to the requester only.
    "owner.approved": {
        "en": ":information_source: {requester} asked for a passcode reset of your device {name} "
              "({id}), and {approver} approved it. The reset is running now. Any new passcode "
              "goes to {requester}, not to you.",
        "sv": ":information_source: {requester} har begärt återställning av lösenkoden för din "
              "enhet {name} ({id}), och {approver} har godkänt det. Återställningen pågår nu. En "
              "eventuell ny lösenkod går till {requester}, inte till dig.",
        "it": ":information_source: {requester} ha richiesto la reimpostazione del passcode del "
              "tuo dispositivo {name} ({id}) e {approver} l'ha approvata. La reimpostazione è in "
              "corso. L'eventuale nuovo passcode va a {requester}, non a te.",
        "ro": ":information_source: {requester} a cerut resetarea codului de acces pentru "
              "dispozitivul tău {name} ({id}), iar {approver} a aprobat-o. Resetarea este în "
              "curs. Un eventual cod de acces nou ajunge la {requester}, nu la tine.",
    },
    "owner.completed": {
        "en": ":information_source: The passcode reset of your device {name} ({id}) that "
              "{requester} asked for has completed.",
        "sv": ":information_source: Återställningen av lösenkoden för din enhet {name} ({id}), "
              "som {requester} begärde, är slutförd.",
        "it": ":information_source: La reimpostazione del passcode del tuo dispositivo {name} "
              "({id}), richiesta da {requester}, è stata completata.",
        "ro": ":information_source: Resetarea codului de acces pentru dispozitivul tău {name} "
              "({id}), cerută de {requester}, s-a încheiat.",
    },
    "owner.failed": {
        "en": ":information_source: The passcode reset of your device {name} ({id}) that "
              "{requester} asked for failed.",
        "sv": ":information_source: Återställningen av lösenkoden för din enhet {name} ({id}), "
              "som {requester} begärde, misslyckades.",
        "it": ":information_source: La reimpostazione del passcode del tuo dispositivo {name} "
              "({id}), richiesta da {requester}, non è riuscita.",
        "ro": ":information_source: Resetarea codului de acces pentru dispozitivul tău {name} "
              "({id}), cerută de {requester}, a eșuat.",
    },
    "owner.unexpected": {
        "en": "If you did not expect this, tell the helpdesk.",
        "sv": "Om du inte väntade dig detta, kontakta helpdesk.",
        "it": "Se non te lo aspettavi, rivolgiti all'helpdesk.",
        "ro": "Dacă nu te așteptai la asta, contactează helpdeskul.",
    },
    # -- /passcode status (App Home stays English) ---------------------------------------------
    "status.none": {
        "en": "You have no passcode reset requests yet.",
        "sv": "Du har inga begäranden om återställning av lösenkoden än.",
        "it": "Non hai ancora richieste di reimpostazione del passcode.",
        "ro": "Nu ai încă nicio cerere de resetare a codului de acces.",
    },
    "status.not_found": {
        "en": "No request {id} that you can see.",
        "sv": "Det finns ingen begäran {id} som du kan se.",
        "it": "Non c'è nessuna richiesta {id} che tu possa vedere.",
        "ro": "Nu există nicio cerere {id} pe care să o poți vedea.",
    },
    "status.line": {
        "en": "*{id}* · {name} · {state} · requested {when}",
        "sv": "*{id}* · {name} · {state} · begärd {when}",
        "it": "*{id}* · {name} · {state} · richiesta il {when}",
        "ro": "*{id}* · {name} · {state} · cerută pe {when}",
    },
    "status.delivery_problem": {
        "en": ":warning: I could not send you a direct message about this request yet.",
        "sv": ":warning: Jag har inte kunnat skicka något direktmeddelande till dig om den här "
              "begäran än.",
        "it": ":warning: Non sono ancora riuscito a inviarti un messaggio diretto su questa "
              "richiesta.",
        "ro": ":warning: Încă nu ți-am putut trimite un mesaj direct despre această cerere.",
    },
    # The states as a requester reads them (English: bot.domain's labels, word for word).
    "state.requested": {"en": "requested", "sv": "begärd", "it": "richiesta", "ro": "cerută"},
    "state.refused": {
        "en": "refused", "sv": "avvisad", "it": "non consentita", "ro": "refuzată",
    },
    "state.awaiting_approval": {
        "en": "awaiting approval",
        "sv": "väntar på godkännande",
        "it": "in attesa di approvazione",
        "ro": "în așteptarea aprobării",
    },
    "state.approved": {"en": "approved", "sv": "godkänd", "it": "approvata", "ro": "aprobată"},
    "state.denied": {"en": "denied", "sv": "avslagen", "it": "rifiutata", "ro": "respinsă"},
    "state.cancelled": {
        "en": "cancelled", "sv": "avbruten", "it": "annullata", "ro": "anulată",
    },
    "state.expired": {
        "en": "expired without a decision",
        "sv": "utgången utan beslut",
        "it": "scaduta senza decisione",
        "ro": "expirată fără decizie",
    },
    "state.executing": {
        "en": "resetting",
        "sv": "återställs",
        "it": "reimpostazione in corso",
        "ro": "în curs de resetare",
    },
    "state.completed": {
        "en": "completed", "sv": "slutförd", "it": "completata", "ro": "finalizată",
    },
    "state.failed": {"en": "failed", "sv": "misslyckad", "it": "non riuscita", "ro": "eșuată"},
    "state.revealed": {
        "en": "completed (passcode shown)",
        "sv": "slutförd (lösenkoden har visats)",
        "it": "completata (passcode mostrato)",
        "ro": "finalizată (codul de acces a fost afișat)",
    },
    "state.passcode_expired": {
        "en": "completed (passcode expired)",
        "sv": "slutförd (lösenkoden har gått ut)",
        "it": "completata (passcode scaduto)",
        "ro": "finalizată (codul de acces a expirat)",
    },
    # -- the policy rows' reasons and hints (policy/ itself stays English) --------------------
    "row.android_device_admin_7_plus.reason": {
        "en": "Google removed passcode reset from device-administrator apps on Android 7.0 and "
              "later, for every device-management vendor.",
        "sv": "Google har tagit bort återställning av lösenkoden från appar för "
              "enhetsadministratör "
              "på Android 7.0 och senare, för alla leverantörer av enhetshantering.",
        "it": "Google ha rimosso la reimpostazione del passcode dalle app di amministrazione del "
              "dispositivo su Android 7.0 e versioni successive, per tutti i fornitori di "
              "gestione dei dispositivi.",
        "ro": "Google a eliminat resetarea codului de acces din aplicațiile de administrator de "
              "dispozitiv pe Android 7.0 și versiunile ulterioare, pentru toți furnizorii de "
              "gestionare a dispozitivelor.",
    },
    "row.android_device_admin_7_plus.hint": {
        "en": "Re-enroll the device with Android Enterprise (work profile or fully managed), or "
              "ask the helpdesk to wipe and re-provision it.",
        "sv": "Registrera om enheten med Android Enterprise (arbetsprofil eller fullständigt "
              "hanterad), eller be helpdesk att rensa och konfigurera om den.",
        "it": "Registra di nuovo il dispositivo con Android Enterprise (profilo di lavoro o "
              "completamente gestito), oppure chiedi all'helpdesk di cancellarlo e riconfigurarlo.",
        "ro": "Înregistrează din nou dispozitivul cu Android Enterprise (profil de serviciu sau "
              "gestionat complet) sau cere helpdeskului să îl șteargă și să îl reconfigureze.",
    },
    "row.ios_user_enrollment.reason": {
        "en": "Apple does not allow an MDM to clear the passcode of a User Enrollment device.",
        "sv": "Apple tillåter inte att en MDM tar bort lösenkoden på en enhet med "
              "användarregistrering.",
        "it": "Apple non consente a un MDM di cancellare il passcode di un dispositivo con "
              "registrazione utente.",
        "ro": "Apple nu permite unui MDM să elimine codul de acces al unui dispozitiv cu "
              "înregistrare de utilizator.",
    },
    "row.ios_user_enrollment.hint": {
        "en": "The user can reset the passcode on the device with their Apple Account, or the "
              "device can be erased and enrolled again.",
        "sv": "Användaren kan återställa lösenkoden på enheten med sitt Apple-konto, eller så kan "
              "enheten raderas och registreras igen.",
        "it": "L'utente può reimpostare il passcode sul dispositivo con il proprio Account Apple, "
              "oppure il dispositivo può essere inizializzato e registrato di nuovo.",
        "ro": "Utilizatorul poate reseta codul de acces pe dispozitiv cu contul Apple, sau "
              "dispozitivul poate fi șters și înregistrat din nou.",
    },
    "row.macos.reason": {
        "en": "Intune cannot reset or remove a passcode on macOS.",
        "sv": "Intune kan inte återställa eller ta bort en lösenkod på macOS.",
        "it": "Intune non può reimpostare né rimuovere un passcode su macOS.",
        "ro": "Intune nu poate reseta sau elimina un cod de acces pe macOS.",
    },
    "row.macos.hint": {
        "en": "Use the Mac's own password recovery, or ask the helpdesk for a remote lock PIN.",
        "sv": "Använd Macens egen lösenordsåterställning, eller be helpdesk om en PIN-kod för "
              "fjärrlåsning.",
        "it": "Usa il recupero password del Mac, oppure chiedi all'helpdesk un PIN di blocco "
              "remoto.",
        "ro": "Folosește recuperarea parolei de pe Mac sau cere helpdeskului un PIN de blocare "
              "la distanță.",
    },
    "row.windows.reason": {
        "en": "Intune cannot reset a Windows password or Windows Hello PIN remotely.",
        "sv": "Intune kan inte återställa ett Windows-lösenord eller en PIN-kod för Windows Hello "
              "på distans.",
        "it": "Intune non può reimpostare da remoto una password di Windows o un PIN di Windows "
              "Hello.",
        "ro": "Intune nu poate reseta de la distanță o parolă Windows sau un PIN Windows Hello.",
    },
    "row.windows.hint": {
        "en": 'Use "I forgot my PIN" on the sign-in screen, or self-service password reset for '
              "the work account.",
        "sv": "Använd ”Jag har glömt min PIN-kod” på inloggningsskärmen, eller självbetjänad "
              "lösenordsåterställning för jobbkontot.",
        "it": "Usa «Ho dimenticato il PIN» nella schermata di accesso, oppure la reimpostazione "
              "self-service della password per l'account aziendale.",
        "ro": "Folosește „Am uitat PIN-ul” pe ecranul de conectare sau resetarea parolei prin "
              "autoservire pentru contul de serviciu.",
    },
    "row.unknown.reason": {
        "en": "The device's platform or enrollment type is not one this bot knows how to reset.",
        "sv": "Enhetens plattform eller registreringstyp är inte en som den här boten kan "
              "återställa.",
        "it": "La piattaforma o il tipo di registrazione del dispositivo non è tra quelli che "
              "questo bot sa reimpostare.",
        "ro": "Platforma sau tipul de înregistrare al dispozitivului nu este unul pe care acest "
              "bot știe să îl reseteze.",
    },
    "row.unknown.hint": {
        "en": "Ask the helpdesk to check the device in the Intune admin center.",
        "sv": "Be helpdesk att kontrollera enheten i administrationscentret för Intune.",
        "it": "Chiedi all'helpdesk di controllare il dispositivo nell'interfaccia di "
              "amministrazione di Intune.",
        "ro": "Cere helpdeskului să verifice dispozitivul în centrul de administrare Intune.",
    },
}
