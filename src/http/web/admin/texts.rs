//! The administrators' pages' words (en, sv); see [`crate::texts!`].

crate::texts! {
    AdminTexts {
        overview_title: "Overview", "Översikt";
        your_lists: "Your lists", "Dina listor";
        no_lists: "No list in your groups yet.", "Ingen lista i dina grupper ännu.";
        list: "List", "Lista";
        address: "Address", "Adress";
        direct_members: "Direct members", "Direkta medlemmar";
        held_posts: "Posts waiting for moderation", "Inlägg som väntar på moderering";
        groups_title: "Groups", "Grupper";
        group: "Group", "Grupp";
        inactive: "inactive", "inaktiv";
        standard: "standard group", "standardgrupp";
        rule: "Rule", "Regel";
        no_groups: "No group in your scopes.", "Ingen grupp i dina behörigheter.";
    }
}
