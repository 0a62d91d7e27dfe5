//! The sign-in mail, per language (en, sv). `{site}` stands for `web.site_name`, `{link}` for the
//! link, `{minutes}` for how long it works.

pub struct MailTexts {
    pub subject: &'static str,
    pub body: &'static str,
}

const EN: MailTexts = MailTexts {
    subject: "Sign in to {site}",
    body: "Someone (we hope you) asked to sign in to {site} with this address.\n\n\
           Open this link to sign in. It works once, for {minutes} minutes:\n\n{link}\n\n\
           If you did not ask for it, ignore this mail: nobody can sign in without the link.\n",
};

const SV: MailTexts = MailTexts {
    subject: "Logga in på {site}",
    body: "Någon (förhoppningsvis du) har bett om att få logga in på {site} med den här adressen.\n\n\
           Öppna länken för att logga in. Den fungerar en gång, i {minutes} minuter:\n\n{link}\n\n\
           Har du inte bett om den kan du bortse från det här brevet: ingen kan logga in utan länken.\n",
};

/// The texts for a language code; English for any other.
pub fn mail(language: &str) -> &'static MailTexts {
    match language {
        "sv" => &SV,
        _ => &EN,
    }
}
