use super::*;
use crate::model::list_settings::{Action, ListSettings, WhoMayPost};
use crate::verify::{DmarcStatus, DomainPolicy};

fn board() -> Group {
    Group {
        id: 1,
        name: "Board".into(),
        address: Some("board@example.org".into()),
        active: true,
        standard_key: None,
        criteria: None,
        settings: None,
    }
}

const PLAIN: &str = "From: a@x.org\r\nTo: board@example.org\r\nSubject: hi\r\n\r\nbody\r\n";

fn verdict_for(
    raw: &str,
    settings: &ListSettings,
    standing: Standing,
    envelope: &str,
    recent: i64,
) -> Verdict {
    verdict_dmarc(raw, settings, standing, envelope, recent, DmarcStatus::None)
}

fn verdict_dmarc(
    raw: &str,
    settings: &ListSettings,
    standing: Standing,
    envelope: &str,
    recent: i64,
    dmarc: DmarcStatus,
) -> Verdict {
    let msg = mail_parser::MessageParser::new()
        .parse(raw.as_bytes())
        .unwrap();
    let group = board();
    evaluate(&PostContext {
        message: &msg,
        group: &group,
        settings,
        author: Some("a@x.org"),
        envelope_from: envelope,
        size: raw.len(),
        standing,
        recent_posts: recent,
        dmarc,
    })
}

fn verdict(settings: &ListSettings, standing: Standing) -> Verdict {
    verdict_for(PLAIN, settings, standing, "a@x.org", 0)
}

const MEMBER: Standing = Standing {
    member: true,
    manager: false,
    in_post_groups: false,
};
const MANAGER: Standing = Standing {
    member: true,
    manager: true,
    in_post_groups: false,
};
const STRANGER: Standing = Standing {
    member: false,
    manager: false,
    in_post_groups: false,
};

#[test]
fn each_action_applies_to_members_and_non_members_separately() {
    for action in [
        Action::Accept,
        Action::Hold,
        Action::Reject,
        Action::Discard,
    ] {
        let s = ListSettings {
            nonmember_action: action,
            member_action: Action::Accept,
            ..Default::default()
        };
        let v = verdict(&s, STRANGER);
        let expected = match action {
            Action::Accept => matches!(v, Verdict::Accept),
            Action::Hold => matches!(&v, Verdict::Hold(r) if r.contains("members only")),
            Action::Reject => matches!(&v, Verdict::Reject(r) if r.contains("members only")),
            Action::Discard => matches!(v, Verdict::Discard(_)),
        };
        assert!(expected, "non-member with {action:?}: {v:?}");
        assert_eq!(verdict(&s, MEMBER), Verdict::Accept, "members post freely");

        let announce = ListSettings {
            who_may_post: WhoMayPost::Managers,
            member_action: action,
            ..Default::default()
        };
        let v = verdict(&announce, MEMBER);
        let expected = match action {
            Action::Accept => matches!(v, Verdict::Accept),
            Action::Hold => matches!(&v, Verdict::Hold(r) if r.contains("only the managers")),
            Action::Reject => matches!(&v, Verdict::Reject(r) if r.contains("only the managers")),
            Action::Discard => matches!(v, Verdict::Discard(_)),
        };
        assert!(
            expected,
            "member of an announce list with {action:?}: {v:?}"
        );
        assert_eq!(
            verdict(&announce, MANAGER),
            Verdict::Accept,
            "the leader posts"
        );
    }
}

#[test]
fn other_groups_and_allowed_senders_may_post() {
    let s = ListSettings {
        nonmember_action: Action::Reject,
        ..Default::default()
    };
    let board_member = Standing {
        in_post_groups: true,
        ..STRANGER
    };
    assert_eq!(verdict(&s, board_member), Verdict::Accept);
    let allowed = ListSettings {
        allowed_senders: vec!["A@x.org".into()],
        ..s.clone()
    };
    assert_eq!(verdict(&allowed, STRANGER), Verdict::Accept);
    let anyone = ListSettings {
        who_may_post: WhoMayPost::Anyone,
        ..s
    };
    assert_eq!(verdict(&anyone, STRANGER), Verdict::Accept);
}

#[test]
fn loops_and_automatic_mail_are_never_distributed() {
    let s = ListSettings::default();
    let looped = format!("X-Loop: Board@Example.org\r\n{PLAIN}");
    assert!(
        matches!(verdict_for(&looped, &s, MEMBER, "a@x.org", 0), Verdict::Drop(r) if r.contains("loop"))
    );
    assert!(
        matches!(verdict_for(PLAIN, &s, MEMBER, "", 0), Verdict::Drop(r) if r.contains("null sender"))
    );
    let auto = format!("Auto-Submitted: auto-replied\r\n{PLAIN}");
    assert!(matches!(
        verdict_for(&auto, &s, MEMBER, "a@x.org", 0),
        Verdict::Drop(_)
    ));
    let human = format!("Auto-Submitted: no\r\n{PLAIN}");
    assert_eq!(
        verdict_for(&human, &s, MEMBER, "a@x.org", 0),
        Verdict::Accept
    );
    let bulk = format!("Precedence: bulk\r\n{PLAIN}");
    assert!(matches!(
        verdict_for(&bulk, &s, MEMBER, "a@x.org", 0),
        Verdict::Drop(_)
    ));
    let dsn = "From: mailer-daemon@x.org\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n";
    assert!(matches!(
        verdict_for(dsn, &s, MEMBER, "bounces@x.org", 0),
        Verdict::Drop(_)
    ));
    let other_list = format!("X-Loop: other@example.org\r\n{PLAIN}");
    assert_eq!(
        verdict_for(&other_list, &s, MEMBER, "a@x.org", 0),
        Verdict::Accept
    );
}

#[test]
fn limits_hold_or_defer() {
    let s = ListSettings {
        posts_per_hour: Some(3),
        ..Default::default()
    };
    assert_eq!(
        verdict_for(PLAIN, &s, MEMBER, "a@x.org", 2),
        Verdict::Accept
    );
    assert!(
        matches!(verdict_for(PLAIN, &s, MEMBER, "a@x.org", 3), Verdict::TryLater(r) if r.contains("3 posts per hour"))
    );
    let small = ListSettings {
        max_message_size: Some(10),
        ..Default::default()
    };
    assert!(
        matches!(verdict(&small, MEMBER), Verdict::Hold(r) if r.contains("larger than 10 bytes"))
    );
    let few = ListSettings {
        max_recipients: Some(1),
        ..Default::default()
    };
    let many = "From: a@x.org\r\nTo: board@example.org, b@x.org\r\nCc: c@x.org\r\nSubject: hi\r\n\r\nbody\r\n";
    assert!(
        matches!(verdict_for(many, &few, MEMBER, "a@x.org", 0), Verdict::Hold(r) if r.contains("3 addresses"))
    );
}

#[test]
fn a_post_failing_dmarc_of_a_reject_domain_gets_the_groups_dmarc_action() {
    let fail = |policy| DmarcStatus::Fail { policy };
    let mut settings = ListSettings::default();
    // Even a member's post: the From: may be forged.
    let held = verdict_dmarc(
        PLAIN,
        &settings,
        MEMBER,
        "a@x.org",
        0,
        fail(DomainPolicy::Reject),
    );
    assert!(
        matches!(&held, Verdict::Hold(why) if why.contains("fails DMARC of x.org")),
        "{held:?}"
    );
    settings.dmarc_fail_action = Action::Reject;
    let refused = verdict_dmarc(
        PLAIN,
        &settings,
        MEMBER,
        "a@x.org",
        0,
        fail(DomainPolicy::Reject),
    );
    assert!(matches!(refused, Verdict::Reject(_)), "{refused:?}");
    settings.dmarc_fail_action = Action::Accept;
    let taken = verdict_dmarc(
        PLAIN,
        &settings,
        MEMBER,
        "a@x.org",
        0,
        fail(DomainPolicy::Reject),
    );
    assert_eq!(taken, Verdict::Accept);
    // Weaker policies, a pass, or DNS trouble: the ordinary rules decide.
    settings.dmarc_fail_action = Action::Reject;
    for status in [
        fail(DomainPolicy::Quarantine),
        fail(DomainPolicy::None),
        DmarcStatus::Pass,
        DmarcStatus::TempError,
        DmarcStatus::None,
    ] {
        assert_eq!(
            verdict_dmarc(PLAIN, &settings, MEMBER, "a@x.org", 0, status),
            Verdict::Accept,
            "{status:?}"
        );
    }
}
