//! The texts the server writes, per list language (`settings.language`): en, de, sv.

pub struct Texts {
    pub held_subject: &'static str,
    pub held_intro: &'static str,
    pub approve: &'static str,
    pub reject: &'static str,
    pub discard: &'static str,
    pub rejected_subject: &'static str,
    pub rejected_intro: &'static str,
    pub expired_subject: &'static str,
    pub expired_intro: &'static str,
    pub reason: &'static str,
}

const EN: Texts = Texts {
    held_subject: "Post held for moderation",
    held_intro: "A post to the list is waiting for a moderator's decision.",
    approve: "Approve (send it to the list)",
    reject: "Reject (tell the author why)",
    discard: "Discard (silently)",
    rejected_subject: "Your post was not accepted",
    rejected_intro: "A moderator did not accept your post to the list.",
    expired_subject: "Your post expired without a decision",
    expired_intro: "Your post to the list was held for moderation and no moderator decided on it in time, so it was not sent.",
    reason: "Reason",
};

const DE: Texts = Texts {
    held_subject: "Beitrag wartet auf Freigabe",
    held_intro: "Ein Beitrag an die Liste wartet auf die Entscheidung einer Moderatorin oder eines Moderators.",
    approve: "Freigeben (an die Liste senden)",
    reject: "Ablehnen (mit Begründung an den Absender)",
    discard: "Verwerfen (ohne Nachricht)",
    rejected_subject: "Ihr Beitrag wurde nicht angenommen",
    rejected_intro: "Ihr Beitrag an die Liste wurde von der Moderation nicht angenommen.",
    expired_subject: "Ihr Beitrag ist ohne Entscheidung verfallen",
    expired_intro: "Ihr Beitrag an die Liste wartete auf Freigabe, aber niemand hat rechtzeitig entschieden; er wurde nicht verschickt.",
    reason: "Begründung",
};

const SV: Texts = Texts {
    held_subject: "Inlägg väntar på granskning",
    held_intro: "Ett inlägg till listan väntar på att en moderator fattar beslut.",
    approve: "Godkänn (skicka till listan)",
    reject: "Avvisa (berätta varför för avsändaren)",
    discard: "Släng (utan meddelande)",
    rejected_subject: "Ditt inlägg godkändes inte",
    rejected_intro: "En moderator godkände inte ditt inlägg till listan.",
    expired_subject: "Ditt inlägg har gått ut utan beslut",
    expired_intro: "Ditt inlägg till listan väntade på granskning men ingen moderator beslutade i tid, så det skickades inte.",
    reason: "Orsak",
};

pub fn texts(language: &str) -> &'static Texts {
    match language {
        "de" => &DE,
        "sv" => &SV,
        _ => &EN,
    }
}
