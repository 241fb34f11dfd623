use super::*;

#[test]
fn a_release_refused_for_removed_access_is_told_from_other_failures() {
    let refused = |code: u16| {
        let status = serde_json::from_value(serde_json::json!({
            "status": "Failure", "reason": "Forbidden", "code": code, "message": "no"
        }));
        LeaseManagerError::KubeError(kube::Error::Api(status.unwrap()))
    };
    for code in [401, 403, 404] {
        assert_eq!(access_removed(&refused(code)), Some(code));
    }
    for code in [409, 500, 503] {
        assert_eq!(access_removed(&refused(code)), None);
    }
    let gone = LeaseManagerError::NonexistentLease("l".into());
    assert_eq!(access_removed(&gone), Some(404));
    let odd = LeaseManagerError::InconsistentState("x".into());
    assert_eq!(access_removed(&odd), None);
}

#[test]
fn timings_are_checked_before_the_crate_would_panic() {
    let ok = LeaseSettings {
        name: "l".into(),
        namespace: "n".into(),
        identity: "pod-a".into(),
        duration: Duration::from_secs(15),
        grace: Duration::from_secs(5),
    };
    assert!(ok.check().is_ok());
    for (d, g) in [(5, 5), (5, 0), (4, 5)] {
        let bad = LeaseSettings {
            duration: Duration::from_secs(d),
            grace: Duration::from_secs(g),
            ..ok.clone()
        };
        assert!(
            bad.check().unwrap_err().contains("--lease-duration"),
            "{d} {g}"
        );
    }
    let anonymous = LeaseSettings {
        identity: String::new(),
        ..ok
    };
    assert!(anonymous.check().unwrap_err().contains("POD_NAME"));
}

#[test]
fn the_lease_watch_reads_the_holder_and_the_instant_of_its_renewal() {
    use k8s_openapi::{
        api::coordination::v1::LeaseSpec, apimachinery::pkg::apis::meta::v1::MicroTime,
        jiff::Timestamp,
    };
    let lease = |holder: &str| Lease {
        spec: Some(LeaseSpec {
            holder_identity: Some(holder.into()),
            renew_time: Some(MicroTime(
                Timestamp::from_microsecond(1_800_000_000_000_007).unwrap(),
            )),
            ..Default::default()
        }),
        ..Default::default()
    };
    let seen = Seen::of(Some(&lease("pod-a")));
    assert_eq!(seen.holder.as_deref(), Some("pod-a"));
    let renewed = SystemTime::UNIX_EPOCH + Duration::from_micros(1_800_000_000_000_007);
    assert_eq!(seen.renewed, Some(renewed));
    assert_eq!(Seen::of(Some(&lease(""))).holder, None, "released");
    assert_eq!(Seen::of(None), Seen::default());
}

#[test]
fn only_a_renewal_of_ours_moves_the_deadline() {
    let t = |secs| SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
    let lease = (Duration::from_secs(15), Duration::from_secs(2));
    let seen = |holder: &str, renewed| Seen {
        holder: Some(holder.into()),
        renewed: Some(t(renewed)),
    };
    let deadline = |seen: &Seen, acquired| deadline_from(seen, "pod-a", acquired, lease, t(1));
    assert_eq!(deadline(&seen("pod-a", 110), Some(t(100))), t(123));
    assert_eq!(
        deadline(&seen("pod-a", 90), Some(t(100))),
        t(113),
        "from the take-over"
    );
    assert_eq!(
        deadline(&seen("pod-b", 110), Some(t(100))),
        t(113),
        "not ours"
    );
    assert_eq!(deadline(&Seen::default(), None), t(14), "from now");
}
