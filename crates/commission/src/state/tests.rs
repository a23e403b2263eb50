use ed25519_consensus::SigningKey;
use truce_model::envelope::{Envelope, encode_base64};

use super::*;
use crate::action::{Escalation, EscalationKind};
use crate::triggers::tests::{finding, sample};

fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

fn action(actor: &str, time: &str, what: What) -> Action {
    Action {
        actor: actor.into(),
        at: at(time),
        what,
    }
}

fn account(id: &str, role: Role, party: Option<&str>, country: Option<&str>) -> What {
    What::AccountCreate {
        account: Account {
            id: id.into(),
            name: format!("{id} (test)"),
            role,
            party: party.map(str::to_string),
            country: country.map(str::to_string),
            public_key: None,
        },
    }
}

/// A Commission with an analyst, a liaison per party, three commissioners and two
/// guarantor accounts; the next log index to use.
fn staffed() -> (Commission, u64) {
    let mut c = Commission::new(sample());
    let people = [
        account("an-1", Role::Analyst, None, None),
        account("li-ua", Role::Liaison, Some("UA"), None),
        account("li-ru", Role::Liaison, Some("RU"), None),
        account("co-1", Role::Commissioner, None, None),
        account("co-2", Role::Commissioner, None, None),
        account("co-3", Role::Commissioner, None, None),
        account("gu-gb", Role::Guarantor, None, Some("GB")),
        account("gu-us", Role::Guarantor, None, Some("US")),
        account("au-1", Role::Auditor, None, None),
    ];
    let mut index = 10;
    for what in people {
        c.apply(
            index,
            &action(ADMIN, "2026-01-08T00:00:00Z", what),
            Signer::Server,
        )
        .unwrap();
        index += 1;
    }
    (c, index)
}

fn review(actor: &str, finding: &str, verdict: Verdict, reason: Option<&str>) -> Action {
    action(
        actor,
        "2026-01-08T03:00:00Z",
        What::Review {
            finding: finding.into(),
            verdict,
            reason: reason.map(str::to_string),
            policy: None,
        },
    )
}

#[test]
fn only_an_admin_creates_accounts_and_ids_are_unique() {
    let (mut c, i) = staffed();
    let what = account("an-2", Role::Analyst, None, None);
    let err = c
        .apply(
            i,
            &action("an-1", "2026-01-08T01:00:00Z", what.clone()),
            Signer::Server,
        )
        .unwrap_err();
    assert_eq!(err.reason, Reason::Forbidden);
    let err = c
        .apply(
            i,
            &action(
                ADMIN,
                "2026-01-08T01:00:00Z",
                account("an-1", Role::Analyst, None, None),
            ),
            Signer::Server,
        )
        .unwrap_err();
    assert_eq!(err.reason, Reason::Conflict);
    let err = c
        .apply(
            i,
            &action("nobody", "2026-01-08T01:00:00Z", what),
            Signer::Server,
        )
        .unwrap_err();
    assert_eq!(err.reason, Reason::Unauthenticated);
    // A disabled account acts no more.
    let disable = What::AccountDisable {
        account: "an-1".into(),
        reason: "left the mission".into(),
    };
    c.apply(
        i,
        &action(ADMIN, "2026-01-08T01:00:00Z", disable),
        Signer::Server,
    )
    .unwrap();
    let err = c
        .apply(
            i + 1,
            &review("an-1", "f1", Verdict::Verify, None),
            Signer::Server,
        )
        .unwrap_err();
    assert_eq!(err.reason, Reason::Unauthenticated);
}

#[test]
fn token_issues_are_an_admins_and_kept_with_the_account() {
    let (mut c, i) = staffed();
    let issue = |account: &str| What::TokenIssue {
        account: account.into(),
    };
    for (who, account, reason) in [
        ("an-1", "co-1", Reason::Forbidden),
        (ADMIN, "nobody", Reason::NotFound),
        (ADMIN, ADMIN, Reason::Invalid),
        (ADMIN, SYSTEM, Reason::Invalid),
    ] {
        let err = c
            .apply(
                i,
                &action(who, "2026-01-08T01:00:00Z", issue(account)),
                Signer::Server,
            )
            .unwrap_err();
        assert_eq!(err.reason, reason, "{who} for {account}");
    }
    c.apply(
        i,
        &action(ADMIN, "2026-01-08T01:00:00Z", issue("co-1")),
        Signer::Server,
    )
    .unwrap();
    let record = c.accounts().find(|r| r.account.id == "co-1").unwrap();
    let issued: Vec<(u64, &str)> = record
        .tokens_issued
        .iter()
        .map(|s| (s.index, s.actor.as_str()))
        .collect();
    assert_eq!(issued, [(i, ADMIN)]);
    // A disabled account gets no new token.
    let disable = What::AccountDisable {
        account: "co-1".into(),
        reason: "left".into(),
    };
    c.apply(
        i + 1,
        &action(ADMIN, "2026-01-08T02:00:00Z", disable),
        Signer::Server,
    )
    .unwrap();
    let err = c
        .apply(
            i + 2,
            &action(ADMIN, "2026-01-08T03:00:00Z", issue("co-1")),
            Signer::Server,
        )
        .unwrap_err();
    assert_eq!(err.reason, Reason::NotFound);
}

#[test]
fn analysts_review_liaisons_do_not_and_history_is_kept() {
    let (mut c, i) = staffed();
    for who in ["li-ua", "co-1", "gu-gb", "au-1", ADMIN] {
        let err = c
            .apply(i, &review(who, "f1", Verdict::Verify, None), Signer::Server)
            .unwrap_err();
        assert_eq!(err.reason, Reason::Forbidden, "{who}");
    }
    assert_eq!(c.state_of("f1"), VerificationState::Candidate);
    let err = c
        .apply(
            i,
            &review("an-1", "f1", Verdict::Discount, None),
            Signer::Server,
        )
        .unwrap_err();
    assert_eq!((err.reason, err.field), (Reason::Invalid, Some("reason")));
    c.apply(
        i,
        &review("an-1", "f1", Verdict::UnderReview, None),
        Signer::Server,
    )
    .unwrap();
    c.apply(
        i + 1,
        &review(
            "an-1",
            "f1",
            Verdict::Contest,
            Some("RU disputes the origin"),
        ),
        Signer::Server,
    )
    .unwrap();
    c.apply(
        i + 2,
        &review("an-1", "f1", Verdict::Verify, None),
        Signer::Server,
    )
    .unwrap();
    let err = c
        .apply(
            i + 3,
            &review("an-1", "f1", Verdict::Verify, None),
            Signer::Server,
        )
        .unwrap_err();
    assert_eq!(err.reason, Reason::Conflict);
    assert_eq!(c.state_of("f1"), VerificationState::Verified);
    let states: Vec<VerificationState> = c.history("f1").iter().map(|r| r.state).collect();
    assert_eq!(
        states,
        [
            VerificationState::UnderReview,
            VerificationState::Contested,
            VerificationState::Verified
        ]
    );
    assert_eq!(c.history("f1")[1].stamp.index, i + 1);
}

#[test]
fn the_policy_verifies_only_as_itself() {
    let (mut c, i) = staffed();
    let by_policy = |p: u64| {
        action(
            SYSTEM,
            "2026-01-08T03:00:00Z",
            What::Review {
                finding: "f1".into(),
                verdict: Verdict::Verify,
                reason: None,
                policy: Some(p),
            },
        )
    };
    assert_eq!(
        c.check(&by_policy(i), Signer::Server).unwrap_err().reason,
        Reason::Conflict,
        "no policy in force"
    );
    let policy = What::PolicySet {
        policy: Policy {
            min_operators: 2,
            min_modalities: 2,
            min_probability: None,
            rules: Vec::new(),
        },
    };
    c.apply(
        i,
        &action(ADMIN, "2026-01-08T01:00:00Z", policy),
        Signer::Server,
    )
    .unwrap();
    c.apply(i + 1, &by_policy(i), Signer::Server).unwrap();
    assert_eq!(c.history("f1")[0].policy, Some(i));
    // An analyst cannot pass a verdict off as the policy's.
    let mut forged = review("an-1", "f2", Verdict::Verify, None);
    if let What::Review { policy, .. } = &mut forged.what {
        *policy = Some(i);
    }
    assert_eq!(
        c.check(&forged, Signer::Server).unwrap_err().reason,
        Reason::Invalid
    );
}

fn allegation(party: &str) -> Allegation {
    Allegation {
        party: party.into(),
        against: None,
        summary: "shelling of a substation".into(),
        category: "shelling".into(),
        position: truce_model::Position::new(48.3, 37.9),
        position_sigma_m: 300.0,
        event_time: at("2026-01-08T02:10:00Z"),
        time_sigma_s: 60.0,
        evidence: Vec::new(),
    }
}

#[test]
fn a_liaison_files_for_its_own_party_only() {
    let (mut c, i) = staffed();
    let file = |who: &str, party: &str| {
        action(
            who,
            "2026-01-08T04:00:00Z",
            What::AllegationFile {
                allegation: allegation(party),
            },
        )
    };
    let err = c
        .apply(i, &file("li-ua", "RU"), Signer::Server)
        .unwrap_err();
    assert_eq!((err.reason, err.field), (Reason::Forbidden, Some("party")));
    let err = c.apply(i, &file("an-1", "UA"), Signer::Server).unwrap_err();
    assert_eq!(err.reason, Reason::Forbidden);
    c.apply(i, &file("li-ua", "UA"), Signer::Server).unwrap();
    c.apply(i + 1, &file("li-ru", "RU"), Signer::Server)
        .unwrap();
    assert_eq!(c.allegations().len(), 2);
    let assess = action(
        SYSTEM,
        "2026-01-08T04:00:01Z",
        What::AllegationAssess {
            allegation: i,
            assessment: Assessment {
                outcome: crate::Outcome::NotCorroborated,
                events: Vec::new(),
                observations: Vec::new(),
                detail: "nothing found".into(),
                contradicts: None,
                coverage: Vec::new(),
                results: None,
            },
        },
    );
    assert_eq!(c.check(&assess, Signer::Server), Ok(()));
    let mut by_analyst = assess.clone();
    by_analyst.actor = "an-1".into();
    assert_eq!(
        c.check(&by_analyst, Signer::Server).unwrap_err().reason,
        Reason::Forbidden
    );
    // Not reviewed before its cross-check.
    let review = |who: &str, allegation: u64, verdict: Verdict, reason: Option<&str>| {
        action(
            who,
            "2026-01-08T05:00:00Z",
            What::AllegationReview {
                allegation,
                verdict,
                reason: reason.map(str::to_string),
            },
        )
    };
    let early = review("an-1", i, Verdict::Verify, None);
    assert_eq!(
        c.check(&early, Signer::Server).unwrap_err().field,
        Some("allegation")
    );
    c.apply(i + 2, &assess, Signer::Server).unwrap();
    assert_eq!(
        c.check(&assess, Signer::Server).unwrap_err().reason,
        Reason::Conflict
    );
    // Then it waits in the queue for an analyst: a liaison may not review it, nor may
    // anyone discount it without a reason or give it the state it has.
    assert_eq!(c.allegations()[&i].state(), VerificationState::Candidate);
    for (who, verdict, reason, why) in [
        ("li-ua", Verdict::Verify, None, Reason::Forbidden),
        ("an-1", Verdict::Discount, None, Reason::Invalid),
    ] {
        let refused = c.check(&review(who, i, verdict, reason), Signer::Server);
        assert_eq!(refused.unwrap_err().reason, why, "{who} {verdict:?}");
    }
    let missing = review("an-1", 99, Verdict::Verify, None);
    assert_eq!(
        c.check(&missing, Signer::Server).unwrap_err().reason,
        Reason::NotFound
    );
    let contest = review("an-1", i, Verdict::Contest, Some("the crater is older"));
    c.apply(i + 3, &contest, Signer::Server).unwrap();
    assert_eq!(c.allegations()[&i].state(), VerificationState::Contested);
    assert_eq!(
        c.check(&contest, Signer::Server).unwrap_err().reason,
        Reason::Conflict
    );
    let discount = review("an-1", i, Verdict::Discount, Some("no sensor heard it"));
    c.apply(i + 4, &discount, Signer::Server).unwrap();
    let record = &c.allegations()[&i];
    assert_eq!(record.state(), VerificationState::Discounted);
    assert_eq!(record.reviews.len(), 2, "history is kept");
    let reopen = review("an-1", i, Verdict::Verify, None);
    assert_eq!(
        c.check(&reopen, Signer::Server).unwrap_err().reason,
        Reason::Conflict
    );
}

#[test]
fn a_ruling_needs_verified_findings_and_the_quorum_and_keeps_dissent() {
    let (mut c, i) = staffed();
    let propose = action(
        "co-1",
        "2026-01-09T10:00:00Z",
        What::RulingPropose {
            findings: vec!["f1".into()],
            attribution: Some("RU".into()),
            intent: Intent::Deliberate,
            remedy: "cease fire from the position; compensation for the substation".into(),
        },
    );
    assert_eq!(
        c.check(&propose, Signer::Server).unwrap_err().reason,
        Reason::Conflict
    );
    c.apply(
        i,
        &review("an-1", "f1", Verdict::Verify, None),
        Signer::Server,
    )
    .unwrap();
    let mut by_liaison = propose.clone();
    by_liaison.actor = "li-ua".into();
    assert_eq!(
        c.check(&by_liaison, Signer::Server).unwrap_err().reason,
        Reason::Forbidden
    );
    c.apply(i + 1, &propose, Signer::Server).unwrap();
    let vote = |who: &str, vote: Vote| {
        action(
            who,
            "2026-01-09T11:00:00Z",
            What::RulingVote {
                ruling: i + 1,
                vote,
                reason: (vote == Vote::Dissent).then(|| "intent not shown".to_string()),
            },
        )
    };
    c.apply(i + 2, &vote("co-2", Vote::Dissent), Signer::Server)
        .unwrap();
    assert!(c.rulings()[&(i + 1)].adopted.is_none());
    assert_eq!(
        c.check(&vote("co-1", Vote::Concur), Signer::Server)
            .unwrap_err()
            .reason,
        Reason::Conflict,
        "the proposer has concurred already"
    );
    c.apply(i + 3, &vote("co-3", Vote::Concur), Signer::Server)
        .unwrap();
    // Quorum 3 of 5: two concurrences are not enough.
    assert!(c.rulings()[&(i + 1)].adopted.is_none());
    let r = &c.rulings()[&(i + 1)];
    assert_eq!(r.votes.len(), 3);
    assert_eq!(r.votes[1].vote, Vote::Dissent);
    assert_eq!(r.votes[1].reason.as_deref(), Some("intent not shown"));
    // With a quorum of two, the same votes adopt it, at the vote that reached it.
    let mut c2 = Commission::new({
        let mut g = sample();
        g.commission.quorum = 2;
        g
    });
    c2.accounts = c.accounts.clone();
    c2.reviews = c.reviews.clone();
    c2.apply(i + 1, &propose, Signer::Server).unwrap();
    c2.apply(i + 2, &vote("co-2", Vote::Dissent), Signer::Server)
        .unwrap();
    c2.apply(i + 3, &vote("co-3", Vote::Concur), Signer::Server)
        .unwrap();
    assert_eq!(
        c2.rulings()[&(i + 1)].adopted.as_ref().map(|s| s.index),
        Some(i + 3)
    );
}

fn escalation(commitment: &str, guarantor: &str, finding: &str, opened: Timestamp) -> Escalation {
    let g = sample();
    let f = finding_for(finding);
    crate::triggers::for_verified_finding(&g, at("2026-01-08T00:00:00Z"), &f, opened)
        .into_iter()
        .find(|e| e.commitment == commitment && e.guarantor == guarantor)
        .unwrap()
}

fn finding_for(id: &str) -> truce_model::Finding {
    finding(id, "cross_line_fire", Some("RU"), "2026-01-08T02:00:00Z")
}

#[test]
fn escalations_are_answered_by_their_guarantor_and_deadlines_are_judged() {
    let (mut c, i) = staffed();
    let opened = at("2026-01-08T03:00:00Z");
    let e = escalation("gb-multinational-force", "GB", "f1", opened);
    assert_eq!(e.kind, EscalationKind::Activation);
    let open = action(
        SYSTEM,
        "2026-01-08T03:00:00Z",
        What::EscalationOpen {
            escalation: e.clone(),
        },
    );
    let mut by_analyst = open.clone();
    by_analyst.actor = "an-1".into();
    assert_eq!(
        c.check(&by_analyst, Signer::Server).unwrap_err().reason,
        Reason::Forbidden
    );
    c.apply(i, &open, Signer::Server).unwrap();
    assert_eq!(
        c.check(&open, Signer::Server).unwrap_err().reason,
        Reason::Conflict
    );
    assert_eq!(c.escalation_for(&e.key()), Some(i));
    // Before any answer: both clocks run; a day and a minute later the first is overdue.
    let statuses = |c: &Commission, now: &str| -> Vec<DueStatus> {
        c.deadlines(at(now)).into_iter().map(|d| d.status).collect()
    };
    assert_eq!(
        statuses(&c, "2026-01-08T04:00:00Z"),
        [DueStatus::Running, DueStatus::Running]
    );
    assert_eq!(
        statuses(&c, "2026-01-09T03:01:00Z"),
        [DueStatus::Overdue, DueStatus::Running]
    );
    let ack = |who: &str| {
        action(
            who,
            "2026-01-08T20:00:00Z",
            What::EscalationAck {
                escalation: i,
                note: Some("consultations convened".into()),
            },
        )
    };
    assert_eq!(
        c.check(&ack("gu-us"), Signer::Server).unwrap_err().reason,
        Reason::Forbidden
    );
    assert_eq!(
        c.check(&ack("an-1"), Signer::Server).unwrap_err().reason,
        Reason::Forbidden
    );
    c.apply(i + 1, &ack("gu-gb"), Signer::Server).unwrap();
    // The acknowledgement stops the first clock; the response's still runs, then is late.
    assert_eq!(
        statuses(&c, "2026-01-09T03:01:00Z"),
        [DueStatus::Met, DueStatus::Running]
    );
    assert_eq!(
        statuses(&c, "2026-01-12T00:00:00Z"),
        [DueStatus::Met, DueStatus::Overdue]
    );
    let respond = |measures: Vec<Measure>| {
        action(
            "gu-gb",
            "2026-01-12T00:00:00Z",
            What::EscalationRespond {
                escalation: i,
                measures,
                note: None,
            },
        )
    };
    assert_eq!(
        c.check(&respond(vec![Measure::Sanctions]), Signer::Server)
            .unwrap_err()
            .reason,
        Reason::Invalid,
        "not on the GB menu"
    );
    c.apply(
        i + 2,
        &respond(vec![Measure::Intelligence, Measure::Logistics]),
        Signer::Server,
    )
    .unwrap();
    assert_eq!(
        statuses(&c, "2026-01-20T00:00:00Z"),
        [DueStatus::Met, DueStatus::MetLate]
    );
}

#[test]
fn a_lapse_is_logged_by_the_server_once_after_an_unmet_deadline() {
    let (mut c, i) = staffed();
    let opened = at("2026-01-08T03:00:00Z");
    let e = escalation("gb-multinational-force", "GB", "f1", opened);
    let (first, second) = (
        e.obligations[0].action.clone(),
        e.obligations[1].action.clone(),
    );
    let open = What::EscalationOpen { escalation: e };
    c.apply(
        i,
        &action(SYSTEM, "2026-01-08T03:00:00Z", open),
        Signer::Server,
    )
    .unwrap();
    let lapse = |who: &str, when: &str, name: &str| {
        action(
            who,
            when,
            What::DeadlineLapse {
                escalation: i,
                obligation: name.into(),
            },
        )
    };
    let refused = |c: &Commission, a: &Action| c.check(a, Signer::Server).unwrap_err().reason;
    // Not before the deadline (a day), not by a person, not for what the escalation lacks.
    let late = "2026-01-09T03:01:00Z";
    assert_eq!(
        refused(&c, &lapse(SYSTEM, "2026-01-09T02:59:00Z", &first)),
        Reason::Conflict
    );
    assert_eq!(refused(&c, &lapse("an-1", late, &first)), Reason::Forbidden);
    assert_eq!(refused(&c, &lapse(SYSTEM, late, "pray")), Reason::NotFound);
    c.apply(i + 1, &lapse(SYSTEM, late, &first), Signer::Server)
        .unwrap();
    assert_eq!(refused(&c, &lapse(SYSTEM, late, &first)), Reason::Conflict);
    let lapses: Vec<Option<u64>> = c.deadlines(at(late)).iter().map(|d| d.lapse).collect();
    assert_eq!(lapses, [Some(i + 1), None]);
    // An answer logged after the lapse is late, even one that gives an earlier time (a
    // person's signed action may be dated back within the clock skew), and the lapse
    // stays in the record; a deadline met cannot lapse.
    let ack = What::EscalationAck {
        escalation: i,
        note: None,
    };
    c.apply(
        i + 2,
        &action("gu-gb", "2026-01-09T02:59:30Z", ack),
        Signer::Server,
    )
    .unwrap();
    let after = c.deadlines(at("2026-01-09T05:00:00Z"));
    assert_eq!(
        (after[0].status, after[0].lapse),
        (DueStatus::MetLate, Some(i + 1))
    );
    let respond = What::EscalationRespond {
        escalation: i,
        measures: vec![Measure::Intelligence],
        note: None,
    };
    c.apply(
        i + 3,
        &action("gu-gb", "2026-01-09T06:00:00Z", respond),
        Signer::Server,
    )
    .unwrap();
    assert_eq!(
        refused(&c, &lapse(SYSTEM, "2026-01-20T00:00:00Z", &second)),
        Reason::Conflict
    );
}

#[test]
fn entries_are_verified_against_the_actor_or_the_server() {
    let (mut c, i) = staffed();
    let server = SigningKey::from([7u8; 32]);
    let person = SigningKey::from([9u8; 32]);
    let mut with_key = account("an-k", Role::Analyst, None, None);
    if let What::AccountCreate { account } = &mut with_key {
        account.public_key = Some(encode_base64(&person.verification_key().to_bytes()));
    }
    let seal = |a: &Action, keyid: &str, key: &SigningKey| {
        let payload = serde_json::to_vec(a).unwrap();
        let e = Envelope::signed(ACTION_PAYLOAD_TYPE, &payload, keyid, |m| {
            key.sign(m).to_bytes()
        });
        serde_json::to_vec(&e).unwrap()
    };
    let create = action(ADMIN, "2026-01-08T01:00:00Z", with_key);
    let vk = server.verification_key();
    c.apply_entry(i, &seal(&create, SYSTEM, &server), &vk)
        .unwrap();
    let own = review("an-k", "f1", Verdict::UnderReview, None);
    // Signed by the person: accepted as theirs.
    let mut c1 = c.clone();
    c1.apply_entry(i + 1, &seal(&own, "an-k", &person), &vk)
        .unwrap();
    assert_eq!(c1.history("f1")[0].stamp.signer, Signer::Actor);
    // The server may not sign for someone who has a key; a wrong key fails.
    assert_eq!(
        c.clone()
            .apply_entry(i + 1, &seal(&own, SYSTEM, &server), &vk)
            .unwrap_err()
            .reason,
        Reason::Unauthenticated
    );
    assert_eq!(
        c.clone()
            .apply_entry(i + 1, &seal(&own, "an-k", &server), &vk)
            .unwrap_err()
            .reason,
        Reason::Unauthenticated
    );
    // On behalf of a person without a key: recorded as signed by the server.
    let theirs = review("an-1", "f2", Verdict::UnderReview, None);
    c.apply_entry(i + 1, &seal(&theirs, SYSTEM, &server), &vk)
        .unwrap();
    assert_eq!(c.history("f2")[0].stamp.signer, Signer::Server);
    // Someone else's keyid, a bad payload type, tampering: refused.
    assert!(
        c.clone()
            .apply_entry(i + 2, &seal(&theirs, "an-k", &person), &vk)
            .is_err()
    );
    let mut tampered: Envelope = serde_json::from_slice(&seal(&theirs, SYSTEM, &server)).unwrap();
    tampered.payload = encode_base64(
        &serde_json::to_vec(&review("an-1", "f3", Verdict::UnderReview, None)).unwrap(),
    );
    let err = c
        .clone()
        .apply_entry(i + 2, &serde_json::to_vec(&tampered).unwrap(), &vk)
        .unwrap_err();
    assert_eq!(err.reason, Reason::Unauthenticated);
}
