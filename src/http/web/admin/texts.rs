//! The administrators' pages' words (en, sv); see [`crate::texts!`].

crate::texts! {
    AdminTexts {
        overview_title: "Overview", "Översikt";
        your_lists: "Your lists", "Dina listor";
        no_lists: "No list in your groups yet.", "Ingen lista i dina grupper ännu.";
        list: "List", "Lista";
        address: "Address", "Adress";
        direct_members: "Direct members", "Direkta medlemmar";
        direct_short: "direct members", "direkta medlemmar";
        held_posts: "Waiting for moderation", "Väntar på moderering";
        to_moderation: "Moderate", "Moderera";
        deferred: "Deliveries deferred", "Leveranser som väntar";
        to_queue: "See the queue", "Se kön";
        failed: "Deliveries failed (7 days)", "Misslyckade leveranser (7 dagar)";
        disabled: "Disabled for bouncing", "Avstängda för studsar";
        recipients: "Recipients", "Mottagare";
        held_short: "Held", "Hållna";
        deferred_short: "Deferred", "Väntar";
        failed_short: "Failed", "Misslyckade";
        disabled_short: "Bouncing", "Studsar";
        groups_title: "Groups", "Grupper";
        group: "Group", "Grupp";
        inactive: "inactive", "inaktiv";
        standard: "standard group", "standardgrupp";
        as_managers: "as managers", "som ansvariga";
        rule: "Rule", "Regel";
        no_groups: "No group in your scopes.", "Ingen grupp i dina behörigheter.";
        new_group: "New group", "Ny grupp";
        name: "Name", "Namn";
        list_address: "List address (optional)", "Listadress (frivillig)";
        address_help: "With an address the group is a mailing list; leave it empty for a group that only holds people.", "Med en adress blir gruppen en e-postlista; lämna tom för en grupp som bara samlar personer.";
        inside: "Inside", "Inuti";
        top_level: "— at the top (no parent) —", "— överst (ingen förälder) —";
        create: "Create the group", "Skapa gruppen";
        done_created: "The group was created.", "Gruppen skapades.";
        done_saved: "Saved.", "Sparat.";
        done_activated: "The group is active.", "Gruppen är aktiv.";
        done_deactivated: "The group is deactivated: no members, and its address takes no mail.", "Gruppen är inaktiverad: inga medlemmar, och dess adress tar inte emot e-post.";
        done_added: "Added.", "Tillagd.";
        done_changed: "The membership was changed.", "Medlemskapet ändrades.";
        done_removed: "Removed.", "Borttagen.";
        done_copied: "The members were copied to the new term.", "Medlemmarna kopierades till den nya perioden.";
        done_subgroup: "The subgroup was added.", "Undergruppen lades till.";
        done_rule: "The rule was saved.", "Regeln sparades.";
        done_enabled: "Delivery is enabled again.", "Leveransen är påslagen igen.";
        tab_members: "Members", "Medlemmar";
        tab_rule: "Rule", "Regel";
        tab_recipients: "Recipients", "Mottagare";
        tab_settings: "List settings", "Listinställningar";
        tab_opt_outs: "Opt-outs", "Avregistreringar";
        tab_bounces: "Bounces", "Studsar";
        tab_archive: "Archive", "Arkiv";
        archive_no_address: "Only lists (groups with an address) have an archive.", "Bara listor (grupper med en adress) har ett arkiv.";
        archive_readers: "Who may read the archive:", "Vem som får läsa arkivet:";
        archive_readers_members: "the people who receive the list now, and its administrators.", "de som får listan nu, och dess administratörer.";
        archive_readers_managers: "the list's administrators only.", "bara listans administratörer.";
        archive_readers_public: "anyone (addresses are not shown in full).", "vem som helst (adresser visas inte i sin helhet).";
        archive_readers_none: "nobody: the list keeps no archive (list setting Archive).", "ingen: listan har inget arkiv (listinställningen Arkiv).";
        archive_open: "Open the archive", "Öppna arkivet";
        archive_import_title: "Import an mbox file", "Importera en mbox-fil";
        archive_intro: "Bring a list's history into its archive: Mailman 2's monthly .txt or .txt.gz files, a HyperKitty export or a Google Takeout .mbox. A message already in the archive (the same Message-ID) is not added again, so a file can be imported twice without harm. The messages are readable by the same people as the list's own posts.", "För in en listas historik i arkivet: Mailman 2:s månadsfiler (.txt eller .txt.gz), en export från HyperKitty eller en .mbox från Google Takeout. Ett meddelande som redan finns i arkivet (samma Message-ID) läggs inte till igen, så en fil kan importeras två gånger utan skada. Meddelandena kan läsas av samma personer som listans egna inlägg.";
        archive_file: "mbox file", "mbox-fil";
        archive_max: "At most {n} MiB. Larger files are imported on the server with circlemail archive import.", "Högst {n} MiB. Större filer importeras på servern med circlemail archive import.";
        archive_import: "Import", "Importera";
        archive_no_file: "Choose an mbox file first.", "Välj en mbox-fil först.";
        archive_imports: "Imports", "Importer";
        archive_none: "Nothing has been imported into this archive.", "Inget har importerats till det här arkivet.";
        archive_file_name: "File", "Fil";
        archive_by: "By", "Av";
        archive_state: "State", "Läge";
        archive_added: "Added", "Tillagda";
        archive_duplicates: "Already archived", "Redan arkiverade";
        archive_unreadable: "Unreadable", "Oläsbara";
        archive_position: "Message", "Meddelande";
        archive_why: "Why", "Varför";
        archive_state_running: "importing", "importeras";
        archive_state_done: "done", "klar";
        archive_state_failed: "failed", "misslyckades";
        archive_state_interrupted: "interrupted", "avbruten";
        archive_importing: "Importing", "Importerar";
        archive_progress: "{done} of {total} bytes read", "{done} av {total} byte lästa";
        archive_reload: "Reload", "Ladda om";
        archive_failed: "The import failed:", "Importen misslyckades:";
        archive_interrupted_help: "The import was cut off (the server restarted). Import the file again: what was archived stays, and nothing is added twice.", "Importen avbröts (servern startades om). Importera filen igen: det som arkiverats finns kvar, och inget läggs till två gånger.";
        archive_more_unreadable: "…and {n} more.", "…och {n} till.";
        archive_again: "Import another file", "Importera en fil till";
        no_address: "no address: not a list", "ingen adress: ingen lista";
        members_title: "Direct members", "Direkta medlemmar";
        search_members: "Search by address or name", "Sök på adress eller namn";
        search: "Search", "Sök";
        no_members: "No direct members yet.", "Inga direkta medlemmar ännu.";
        no_match: "Nobody matches.", "Ingen matchar.";
        person: "Person", "Person";
        role: "Role", "Roll";
        term: "Term", "Period";
        role_member: "member", "medlem";
        delivery: "Gets the list", "Får listan";
        mode_every: "every post", "varje inlägg";
        mode_daily: "daily digest", "dagligt sammandrag";
        mode_weekly: "weekly digest", "veckosammandrag";
        mode_none: "no mail (still a member)", "ingen e-post (fortfarande medlem)";
        paused_until: "paused until {day}", "pausad till {day}";
        role_manager: "manager", "ansvarig";
        from: "From", "Från";
        until: "Until", "Till";
        save: "Save", "Spara";
        remove: "Remove", "Ta bort";
        remove_confirm: "Remove this person from the group (every term)?", "Ta bort personen ur gruppen (alla perioder)?";
        pages: "Pages", "Sidor";
        previous: "← Previous", "← Föregående";
        next: "Next →", "Nästa →";
        page: "Page", "Sida";
        add_member: "Add someone", "Lägg till någon";
        find_person: "Find a person", "Hitta en person";
        nobody_found: "Nobody found in your groups; add a new address below.", "Ingen hittades i dina grupper; lägg till en ny adress nedan.";
        add: "Add", "Lägg till";
        new_address: "Or a new address", "Eller en ny adress";
        copy_title: "Copy to the next term", "Kopiera till nästa period";
        copy_help: "Next year's board from this year's: every direct member whose term is current today, again with their role, for the term below. Past terms are not copied.", "Nästa års styrelse från årets: alla direkta medlemmar vars period gäller i dag, igen med sina roller, för perioden nedan. Tidigare perioder kopieras inte.";
        copy: "Copy the members", "Kopiera medlemmarna";
        subgroups: "Subgroups", "Undergrupper";
        no_subgroups: "No subgroups.", "Inga undergrupper.";
        add_subgroup: "Add a subgroup", "Lägg till en undergrupp";
        group_details: "Name and address", "Namn och adress";
        deactivate_help: "A deactivated group has no members and its address takes no mail; nothing is deleted.", "En inaktiverad grupp har inga medlemmar och dess adress tar inte emot e-post; inget raderas.";
        deactivate: "Deactivate the group", "Inaktivera gruppen";
        deactivate_confirm: "Deactivate this group?", "Inaktivera gruppen?";
        activate: "Activate the group", "Aktivera gruppen";
        rule_empty: "The rule has no condition: choose a field and give a value.", "Regeln har inget villkor: välj ett fält och ange ett värde.";
        matches: "{n} people match", "{n} personer matchar";
        f_status: "status", "status";
        f_membership_type: "membership type", "medlemstyp";
        f_team: "team", "lag";
        f_service: "service", "tjänst";
        f_profile_type: "profile type", "profiltyp";
        f_joined: "joined", "gick med";
        f_left: "left", "lämnade";
        op_equals: "is", "är";
        op_not_equals: "is not", "är inte";
        op_in: "is one of", "är en av";
        op_not_in: "is none of", "är ingen av";
        op_within: "within the last … months", "inom de senaste … månaderna";
        op_more_than: "more than … months ago", "för mer än … månader sedan";
        rule_now: "The rule now", "Regeln nu";
        no_rule: "No rule: only direct members and subgroups.", "Ingen regel: bara direkta medlemmar och undergrupper.";
        rule_help: "A rule adds everyone whose data matches (automatic members), on top of the direct members and subgroups.", "En regel lägger till alla vars uppgifter matchar (automatiska medlemmar), utöver direkta medlemmar och undergrupper.";
        rule_conditions: "Conditions", "Villkor";
        combine: "People must match", "Personer ska matcha";
        combine_all: "all conditions", "alla villkor";
        combine_any: "any condition", "något villkor";
        field: "Field", "Fält";
        op: "Condition", "Villkor";
        value: "Value", "Värde";
        value_help: "Several values: separate them with commas. Months: a number.", "Flera värden: skilj dem med komma. Månader: ett tal.";
        count: "Count", "Räkna";
        save_rule: "Save the rule", "Spara regeln";
        rule_json: "The rule as JSON (for nested rules)", "Regeln som JSON (för nästlade regler)";
        remove_rule: "Remove the rule", "Ta bort regeln";
        remove_rule_confirm: "Remove the rule? Its automatic members leave the group.", "Ta bort regeln? Dess automatiska medlemmar lämnar gruppen.";
        why_title: "Why is this person here:", "Varför är personen här:";
        receives_yes: "Receives the list's mail.", "Får listans e-post.";
        receives_no: "Does not receive the list's mail.", "Får inte listans e-post.";
        paths: "In the group through", "I gruppen genom";
        excluded: "Kept from the mail because", "Får ingen e-post eftersom";
        inactive_terms: "Terms not running today", "Perioder som inte gäller idag";
        recipients_help: "Everyone a post to this list reaches now: direct members in their term, subgroups, the rule, minus opt-outs.", "Alla som ett inlägg till listan når nu: direkta medlemmar under sin period, undergrupper, regeln, minus avregistreringar.";
        matching: "match", "matchar";
        no_recipients: "Nobody receives this list's mail now.", "Ingen får listans e-post nu.";
        why: "Why", "Varför";
        explain: "Explain", "Förklara";
        no_opt_outs: "Nobody has opted out of this list.", "Ingen har avregistrerat sig från listan.";
        channel: "How", "Hur";
        when: "When", "När";
        per_post: "Opt-outs after each post", "Avregistreringar efter varje inlägg";
        no_posts: "No posts yet.", "Inga inlägg ännu.";
        message_id: "Message-ID", "Message-ID";
        bounces_help: "Each bounce raises a person's score; at the limit delivery of this list to them stops until re-enabled.", "Varje studs höjer personens poäng; vid gränsen stoppas leveransen av listan till dem tills den slås på igen.";
        no_bounces: "No bounces.", "Inga studsar.";
        score: "Score", "Poäng";
        bounce_count: "Bounces", "Studsar";
        last_bounce: "Last bounce", "Senaste studs";
        state: "Delivery", "Leverans";
        disabled_since: "disabled since", "avstängd sedan";
        receiving: "receiving", "tar emot";
        reenable: "Re-enable", "Slå på igen";
        reset_score: "Reset the score", "Nollställ poängen";
        sec_posting: "Who may post", "Vem får skicka";
        sec_moderation: "Moderation", "Moderering";
        sec_looks: "How a list mail looks", "Hur ett listbrev ser ut";
        sec_leaving: "Leaving and joining", "Gå ur och gå med";
        preview_title: "What a member sees", "Det här ser en medlem";
        preview_help: "A reply by Ana Andersson <ana@example.org> to the list, with the saved settings.", "Ett svar från Ana Andersson <ana@example.org> till listan, med de sparade inställningarna.";
        preview_plain: "From most domains", "Från de flesta domäner";
        preview_dmarc: "From a domain with DMARC p=reject or p=quarantine (Gmail, Yahoo, …)", "Från en domän med DMARC p=reject eller p=quarantine (Gmail, Yahoo, …)";
        preview_any: "From any author", "Från alla avsändare";
        preview_none: "(none: replies go to From)", "(ingen: svar går till From)";
        h_from: "From", "Från (From)";
        h_reply_to: "Reply-To", "Svara till (Reply-To)";
        h_subject: "Subject", "Ämne (Subject)";
        save_settings: "Save the settings", "Spara inställningarna";
    }
}

impl AdminTexts {
    /// How a member gets a list (`every`, `daily`, `weekly`, `none`: the API's `delivery`).
    pub fn mode(&self, mode: &str) -> &'static str {
        match mode {
            "daily" => self.mode_daily,
            "weekly" => self.mode_weekly,
            "none" => self.mode_none,
            _ => self.mode_every,
        }
    }

    /// "paused until {day}".
    pub fn paused(&self, day: &str) -> String {
        self.paused_until.replace("{day}", day)
    }

    /// A list setting's label and help text (docs/list-settings.md).
    pub fn setting(&self, name: &str) -> (&'static str, &'static str) {
        let sv = self.save == Self::SV.save;
        let (en, svv): ((&str, &str), (&str, &str)) = match name {
            "who_may_post" => (
                (
                    "Who may post",
                    "Members of the group (through subgroups and rules too), anyone, or only its managers (an announce list).",
                ),
                (
                    "Vem får skicka",
                    "Gruppens medlemmar (även genom undergrupper och regler), vem som helst, eller bara de ansvariga (en utskickslista).",
                ),
            ),
            "post_groups" => (
                (
                    "Groups that may post too",
                    "Members of these groups may post as well (the board to All members).",
                ),
                (
                    "Grupper som också får skicka",
                    "Medlemmar i dessa grupper får också skicka (styrelsen till Alla medlemmar).",
                ),
            ),
            "allowed_senders" => (
                ("Addresses that may post too", "One address a line."),
                ("Adresser som också får skicka", "En adress per rad."),
            ),
            "posts_per_hour" => (
                (
                    "Posts per sender per hour",
                    "More get “try again later”. Empty: no limit.",
                ),
                (
                    "Inlägg per avsändare och timme",
                    "Fler får ”försök senare”. Tomt: ingen gräns.",
                ),
            ),
            "max_message_size" => (
                (
                    "Largest post (bytes)",
                    "Larger posts are held for moderation. Empty: the server's limit.",
                ),
                (
                    "Största inlägg (byte)",
                    "Större inlägg hålls för moderering. Tomt: serverns gräns.",
                ),
            ),
            "max_recipients" => (
                (
                    "Most addresses in To and Cc",
                    "A post addressed to more is held. Empty: no limit.",
                ),
                (
                    "Flest adresser i To och Cc",
                    "Ett inlägg till fler hålls. Tomt: ingen gräns.",
                ),
            ),
            "member_action" => (
                (
                    "A member who may not post",
                    "What happens to their post (an announce list): hold, accept, reject or discard.",
                ),
                (
                    "En medlem som inte får skicka",
                    "Vad som händer med inlägget (en utskickslista): hålla, godta, avvisa eller kasta.",
                ),
            ),
            "nonmember_action" => (
                (
                    "Anyone else",
                    "What happens to a post by someone who may not post.",
                ),
                (
                    "Alla andra",
                    "Vad som händer med ett inlägg från någon som inte får skicka.",
                ),
            ),
            "dmarc_fail_action" => (
                (
                    "A forged sender",
                    "A post failing DMARC of a domain that publishes p=reject (someone writing “from” the chair's address).",
                ),
                (
                    "En förfalskad avsändare",
                    "Ett inlägg som inte klarar DMARC för en domän med p=reject (någon som skriver ”från” ordförandens adress).",
                ),
            ),
            "hold_days" => (
                (
                    "Days a held post waits",
                    "Undecided after this many days, it expires with a notice to the author.",
                ),
                (
                    "Dagar ett hållet inlägg väntar",
                    "Obeslutat efter så många dagar förfaller det, med besked till avsändaren.",
                ),
            ),
            "from_mode" => (
                (
                    "From",
                    "auto: “Author via Group” only when the author's domain demands it (so Gmail and Yahoo still deliver); as written: never; via group: always; group: the group is the sender (anonymous).",
                ),
                (
                    "Från (From)",
                    "auto: ”Avsändare via Grupp” bara när avsändarens domän kräver det (så att Gmail och Yahoo levererar); som skrivet: aldrig; via gruppen: alltid; gruppen: gruppen är avsändare (anonymt).",
                ),
            ),
            "reply_to" => (
                (
                    "Replies go to",
                    "The author (one-way lists), the list (discussion), both, or the fixed address below.",
                ),
                (
                    "Svar går till",
                    "Avsändaren (envägslistor), listan (diskussion), båda, eller den fasta adressen nedan.",
                ),
            ),
            "reply_to_address" => (
                ("Fixed reply address", "For “replies go to: fixed”."),
                ("Fast svarsadress", "För ”svar går till: fast”."),
            ),
            "to_mode" => (
                (
                    "To",
                    "recipient: each member gets a copy with their own address in To.",
                ),
                (
                    "Till (To)",
                    "mottagare: varje medlem får en kopia med sin egen adress i To.",
                ),
            ),
            "subject_prefix" => (
                (
                    "Subject prefix",
                    "Added once, e.g. [Board]; replies keep one Re: after it.",
                ),
                (
                    "Ämnesprefix",
                    "Läggs till en gång, t.ex. [Styrelsen]; svar behåller ett Re: efter det.",
                ),
            ),
            "header_text" => (
                ("Text above the post", "Added above the post's text."),
                ("Text ovanför inlägget", "Läggs ovanför inläggets text."),
            ),
            "footer_text" => (
                ("Text below the post", "Added below the post's text."),
                ("Text under inlägget", "Läggs under inläggets text."),
            ),
            "language" => (
                (
                    "Language",
                    "Of the texts the server writes: moderation requests, rejections, notices.",
                ),
                (
                    "Språk",
                    "För texterna servern skriver: modereringsförfrågningar, avvisningar, besked.",
                ),
            ),
            "archive_url" => (
                ("Archive address", "Shown in List-Archive."),
                ("Arkivadress", "Visas i List-Archive."),
            ),
            "help_url" => (
                (
                    "Help address",
                    "Shown in List-Help (without it: mail to the list's owners).",
                ),
                (
                    "Hjälpadress",
                    "Visas i List-Help (utan: e-post till listans ansvariga).",
                ),
            ),
            "skip_addressed_members" => (
                (
                    "No second copy for members addressed directly",
                    "Reply-all on a board: one copy each.",
                ),
                (
                    "Ingen andra kopia till medlemmar som adresserats direkt",
                    "Svara alla i en styrelse: en kopia var.",
                ),
            ),
            "author_receives_own" => (
                ("The author gets their own post", ""),
                ("Avsändaren får sitt eget inlägg", ""),
            ),
            "unsubscribe_links" => (
                (
                    "Personal one-click unsubscribe link",
                    "Each copy carries its recipient's own List-Unsubscribe link (so each gets a copy of their own).",
                ),
                (
                    "Personlig avregistreringslänk",
                    "Varje kopia har mottagarens egen List-Unsubscribe-länk (så att var och en får en egen kopia).",
                ),
            ),
            "unsubscribe_footer" => (
                (
                    "“Leave this list” in the footer",
                    "A link to a page that mails the member their personal link.",
                ),
                (
                    "”Lämna listan” i sidfoten",
                    "En länk till en sida som skickar medlemmen sin personliga länk.",
                ),
            ),
            "self_subscribe" => (
                (
                    "Anyone may join by mail",
                    "To LIST-join@, after confirming by a mailed link; never for rule-filled or standard groups.",
                ),
                (
                    "Vem som helst får gå med via e-post",
                    "Till LISTA-join@, efter bekräftelse via en länk; aldrig för regelstyrda grupper eller standardgrupper.",
                ),
            ),
            _ => (("", ""), ("", "")),
        };
        if sv { svv } else { en }
    }

    /// A setting's choice in words.
    pub fn option(&self, value: &str) -> &'static str {
        let sv = self.save == Self::SV.save;
        let (en, s) = match value {
            "members" => ("members", "medlemmar"),
            "anyone" => ("anyone", "vem som helst"),
            "managers" => ("managers only", "bara ansvariga"),
            "hold" => ("hold for moderation", "håll för moderering"),
            "accept" => ("accept", "godta"),
            "reject" => ("reject", "avvisa"),
            "discard" => ("discard", "kasta"),
            "auto" => ("auto", "auto"),
            "as_written" => ("as written", "som skrivet"),
            "via_group" => ("“Author via Group”", "”Avsändare via Grupp”"),
            "group" => ("the group (anonymous)", "gruppen (anonymt)"),
            "author" => ("the author", "avsändaren"),
            "list" => ("the list", "listan"),
            "both" => ("both", "båda"),
            "fixed" => ("a fixed address", "en fast adress"),
            "recipient" => ("the recipient", "mottagaren"),
            "en" => ("English", "engelska"),
            "de" => ("German", "tyska"),
            "sv" => ("Swedish", "svenska"),
            _ => ("", ""),
        };
        if sv { s } else { en }
    }
}
