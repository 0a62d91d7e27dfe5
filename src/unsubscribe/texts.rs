//! The unsubscribe pages' texts, per list language (`settings.language`): en, de, sv.
//! `{list}` stands for the list's name.

pub struct Texts {
    pub leave_title: &'static str,
    pub leave_intro: &'static str,
    pub leave_button: &'static str,
    pub all_intro: &'static str,
    pub all_button: &'static str,
    pub left_title: &'static str,
    pub left_all_title: &'static str,
    pub left_intro: &'static str,
    pub undo_button: &'static str,
    pub back_title: &'static str,
    pub back_intro: &'static str,
    pub invalid: &'static str,
    pub unknown: &'static str,
    pub confirm_subject: &'static str,
    pub confirm_body: &'static str,
}

const EN: Texts = Texts {
    leave_title: "Leave {list}?",
    leave_intro: "You will no longer receive mail sent to {list}. Mail sent to other groups you belong to still reaches you.",
    leave_button: "Leave {list}",
    all_intro: "Or stop all list mail from this organisation:",
    all_button: "Stop all list mail",
    left_title: "You have left {list}",
    left_all_title: "You receive no more list mail",
    left_intro: "Changed your mind?",
    undo_button: "Undo",
    back_title: "Welcome back",
    back_intro: "You receive {list} mail again.",
    invalid: "This link is not valid (it may have been cut off or changed). Use the link from a recent mail of the list.",
    unknown: "This address is no longer on our lists: there is nothing to leave.",
    confirm_subject: "Leave {list}?",
    confirm_body: "Someone — hopefully you — asked to stop receiving mail sent to {list}.\n\nTo leave, open this link and press the button:\n\n{link}\n\nIf you did not ask, ignore this mail: nothing changes.",
};

const DE: Texts = Texts {
    leave_title: "{list} verlassen?",
    leave_intro: "Sie erhalten keine Mails mehr, die an {list} gehen. Mails an andere Gruppen, zu denen Sie gehören, erreichen Sie weiterhin.",
    leave_button: "{list} verlassen",
    all_intro: "Oder gar keine Listenmails dieser Organisation mehr erhalten:",
    all_button: "Keine Listenmails mehr",
    left_title: "Sie haben {list} verlassen",
    left_all_title: "Sie erhalten keine Listenmails mehr",
    left_intro: "Doch anders entschieden?",
    undo_button: "Rückgängig machen",
    back_title: "Willkommen zurück",
    back_intro: "Sie erhalten wieder Mails von {list}.",
    invalid: "Dieser Link ist ungültig (vielleicht abgeschnitten oder verändert). Bitte nehmen Sie den Link aus einer aktuellen Mail der Liste.",
    unknown: "Diese Adresse steht nicht mehr auf unseren Listen: Es gibt nichts zu verlassen.",
    confirm_subject: "{list} verlassen?",
    confirm_body: "Jemand – hoffentlich Sie – möchte keine Mails mehr erhalten, die an {list} gehen.\n\nZum Austragen öffnen Sie diesen Link und drücken den Knopf:\n\n{link}\n\nWenn Sie das nicht waren, ignorieren Sie diese Mail: Es ändert sich nichts.",
};

const SV: Texts = Texts {
    leave_title: "Lämna {list}?",
    leave_intro: "Du får inte längre e-post som skickas till {list}. E-post till andra grupper du tillhör når dig fortfarande.",
    leave_button: "Lämna {list}",
    all_intro: "Eller sluta ta emot all listpost från organisationen:",
    all_button: "Ingen listpost alls",
    left_title: "Du har lämnat {list}",
    left_all_title: "Du får ingen mer listpost",
    left_intro: "Ångrat dig?",
    undo_button: "Ångra",
    back_title: "Välkommen tillbaka",
    back_intro: "Du får e-post från {list} igen.",
    invalid: "Länken är ogiltig (den kan ha klippts av eller ändrats). Använd länken i ett nytt mejl från listan.",
    unknown: "Adressen finns inte längre på våra listor: det finns inget att lämna.",
    confirm_subject: "Lämna {list}?",
    confirm_body: "Någon – förhoppningsvis du – har bett att inte längre få e-post som skickas till {list}.\n\nFör att lämna, öppna länken och tryck på knappen:\n\n{link}\n\nOm det inte var du kan du strunta i det här mejlet: ingenting ändras.",
};

pub fn for_language(language: &str) -> &'static Texts {
    match language {
        "de" => &DE,
        "sv" => &SV,
        _ => &EN,
    }
}
