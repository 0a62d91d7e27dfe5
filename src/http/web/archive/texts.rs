//! The archives' words (en, sv); see [`crate::texts!`].

crate::texts! {
    ArchiveTexts {
        door: "Read the archives of your lists", "Läs arkiven för dina listor";
        lists_title: "Archives", "Arkiv";
        no_lists: "There is no archive you may read.", "Det finns inget arkiv som du får läsa.";
        list: "List", "Lista";
        messages: "Messages", "Meddelanden";
        last: "Latest", "Senaste";
        months: "Months", "Månader";
        month: "Month", "Månad";
        no_messages: "Nothing archived yet.", "Inget arkiverat ännu.";
        public: "public", "offentligt";
        threads: "Conversations", "Samtal";
        thread: "Conversation", "Samtal";
        subject: "Subject", "Ämne";
        author: "From", "Från";
        date: "Date", "Datum";
        replies: "Messages", "Meddelanden";
        no_subject: "(no subject)", "(inget ämne)";
        erased: "(erased)", "(raderad)";
        quoted: "Quoted text ({n} lines)", "Citerad text ({n} rader)";
        html_version: "The HTML version (made safe: no scripts, images or forms)", "HTML-versionen (gjord säker: inga skript, bilder eller formulär)";
        attachments: "Attachments", "Bilagor";
        download: "Download", "Ladda ned";
        mbox_month: "Download this month (mbox)", "Ladda ned månaden (mbox)";
        mbox_thread: "Download this conversation (mbox)", "Ladda ned samtalet (mbox)";
        whole_thread: "The whole conversation", "Hela samtalet";
        in_reply_to: "In reply to", "Svar på";
        search: "Search", "Sök";
        search_title: "Search {list}", "Sök i {list}";
        words: "Words", "Ord";
        from_date: "From date", "Från datum";
        until_date: "Until date", "Till datum";
        results: "Conversations with matching messages", "Samtal med meddelanden som passar";
        no_results: "Nothing found.", "Inget hittades.";
        matching: "matching messages", "meddelanden som passar";
        previous: "Previous page", "Föregående sida";
        next: "Next page", "Nästa sida";
        page: "Page", "Sida";
        bad_date: "Dates are written 2026-03-31.", "Datum skrivs 2026-03-31.";
        back_to_list: "All months", "Alla månader";
        back_to_lists: "All archives", "Alla arkiv";
    }
}
