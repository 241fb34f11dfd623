//! Restarting workloads when the Secret's content changes (pure). OpenMetadata reads the
//! secret only at start, and its chart has no checksum annotation of its own.
//!
//! The workload's own metadata remembers the checksum it was last rolled (or first seen) for;
//! only a different checksum changes the pod template, so naming a running workload never
//! restarts it by itself.

use crate::{
    crd::WorkloadKind,
    names::{CHECKSUM_ANNOTATION, RESTARTED_FOR_ANNOTATION},
    reconcile::change::Change,
};

/// What to do with one workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rollout {
    /// It does not exist (yet): nothing to restart.
    Missing,
    /// Seen for the first time: remember the checksum on its metadata, leave its pods alone.
    Baseline,
    /// The Secret changed since: set the checksum on the pod template too (the pods roll).
    Roll,
    /// Already at this checksum.
    Nothing,
    /// Restarted for another resource of the namespace (named): left alone.
    Claimed(String),
}

/// What a workload's metadata says: the checksum it was last rolled for and the resource that
/// restarts it (`None` inside `Some`: no annotation yet).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Marks {
    /// [`CHECKSUM_ANNOTATION`].
    pub checksum: Option<String>,
    /// [`RESTARTED_FOR_ANNOTATION`].
    pub restarted_for: Option<String>,
}

/// Decides from the workload's metadata (`None`: it does not exist), for resource `me`.
pub fn rollout(found: Option<&Marks>, checksum: &str, me: &str) -> Rollout {
    let Some(marks) = found else {
        return Rollout::Missing;
    };
    match (&marks.restarted_for, &marks.checksum) {
        (Some(other), _) if other != me => Rollout::Claimed(other.clone()),
        (_, None) => Rollout::Baseline,
        (_, Some(seen)) if seen == checksum => Rollout::Nothing,
        (_, Some(_)) => Rollout::Roll,
    }
}

/// The merge patch that carries out a decision for resource `me`, or `None` when there is
/// nothing to write.
pub fn patch(decision: &Rollout, checksum: &str, me: &str) -> Option<serde_json::Value> {
    let annotations =
        serde_json::json!({ CHECKSUM_ANNOTATION: checksum, RESTARTED_FOR_ANNOTATION: me });
    match decision {
        Rollout::Missing | Rollout::Nothing | Rollout::Claimed(_) => None,
        Rollout::Baseline => {
            Some(serde_json::json!({ "metadata": { "annotations": annotations } }))
        }
        Rollout::Roll => Some(serde_json::json!({
            "metadata": { "annotations": annotations },
            "spec": { "template": { "metadata": { "annotations": { CHECKSUM_ANNOTATION: checksum } } } },
        })),
    }
}

/// What a reconcile knows of one workload named in `spec.secret.rollout`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    /// It carries the checksum at hand, as this operator remembers: not read.
    AsRemembered,
    /// Read: its marks (`None`: it does not exist).
    Read(Option<Marks>),
    /// The operator may not read it (the chart's `rollout.enabled` is off).
    Forbidden,
}

/// What to do for one workload, from what was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub patch: Option<serde_json::Value>,
    /// What to report, if anything: a restart, or a Warning said once per content of the Secret.
    pub change: Option<Change>,
    /// What to remember the workload carries: the checksum, or a marker of a Warning said for it.
    pub remember: Option<String>,
}

/// One workload named in `spec.secret.rollout`, as observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    pub kind: WorkloadKind,
    pub name: String,
    /// What the operator remembers it carries (a checksum, or a Warning's marker).
    pub remembered: Option<String>,
    pub found: Found,
}

/// Plans one workload for resource `me`, at `checksum`.
pub fn step(workload: &Workload, checksum: &str, me: &str) -> Step {
    let (kind, name) = (format!("{:?}", workload.kind), workload.name.clone());
    let remembered = workload.remembered.as_deref();
    // A Warning is said once per content of the Secret: remembered as a marker.
    let warn = |marker: String, change: Change| Step {
        patch: None,
        change: (remembered != Some(marker.as_str())).then_some(change),
        remember: (remembered != Some(marker.as_str())).then_some(marker),
    };
    let marks = match &workload.found {
        Found::AsRemembered => {
            return Step {
                patch: None,
                change: None,
                remember: None,
            };
        }
        Found::Forbidden => return forbidden(workload, checksum),
        Found::Read(marks) => marks.as_ref(),
    };
    let decision = rollout(marks, checksum, me);
    match decision {
        Rollout::Claimed(other) => warn(
            format!("claimed:{checksum}"),
            Change::WorkloadClaimed { kind, name, other },
        ),
        // Looked for again on every pass (it may appear, and must then be seen before the
        // next change).
        Rollout::Missing => warn(
            format!("missing:{checksum}"),
            Change::WorkloadMissing { kind, name },
        ),
        _ => Step {
            patch: patch(&decision, checksum, me),
            change: (decision == Rollout::Roll).then_some(Change::WorkloadRestarted { kind, name }),
            remember: Some(checksum.to_string()),
        },
    }
}

/// The operator may not read or patch the workload: the client and the Secret are delivered
/// all the same, and a Warning says what enables restarts, once per content of the Secret.
pub fn forbidden(workload: &Workload, checksum: &str) -> Step {
    let marker = format!("forbidden:{checksum}");
    let new = workload.remembered.as_deref() != Some(marker.as_str());
    Step {
        patch: None,
        change: new.then(|| Change::WorkloadRestartForbidden {
            kind: format!("{:?}", workload.kind),
            name: workload.name.clone(),
        }),
        remember: new.then_some(marker),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marks(checksum: Option<&str>, by: Option<&str>) -> Marks {
        Marks {
            checksum: checksum.map(str::to_string),
            restarted_for: by.map(str::to_string),
        }
    }

    #[test]
    fn only_a_changed_checksum_touches_the_pod_template() {
        assert_eq!(rollout(None, "a", "om"), Rollout::Missing);
        assert_eq!(
            rollout(Some(&marks(None, None)), "a", "om"),
            Rollout::Baseline
        );
        assert_eq!(
            rollout(Some(&marks(Some("a"), Some("om"))), "a", "om"),
            Rollout::Nothing
        );
        assert_eq!(
            rollout(Some(&marks(Some("b"), Some("om"))), "a", "om"),
            Rollout::Roll
        );
        // Marked before the resource was recorded: taken as this resource's.
        assert_eq!(
            rollout(Some(&marks(Some("b"), None)), "a", "om"),
            Rollout::Roll
        );
        let baseline = patch(&Rollout::Baseline, "a", "om").unwrap();
        assert!(baseline.get("spec").is_none(), "no restart on first sight");
        assert_eq!(
            baseline["metadata"]["annotations"][RESTARTED_FOR_ANNOTATION],
            "om"
        );
        let roll = patch(&Rollout::Roll, "a", "om").unwrap();
        assert_eq!(
            roll["spec"]["template"]["metadata"]["annotations"][CHECKSUM_ANNOTATION],
            "a"
        );
        assert_eq!(patch(&Rollout::Nothing, "a", "om"), None);
        assert_eq!(patch(&Rollout::Missing, "a", "om"), None);
    }

    #[test]
    fn each_workload_gets_its_step_and_a_warning_once_per_content() {
        let seen = |found: Found, remembered: Option<&str>| Workload {
            kind: WorkloadKind::Deployment,
            name: "om".into(),
            remembered: remembered.map(str::to_string),
            found,
        };
        let (kind, name) = (|| "Deployment".to_string(), || "om".to_string());
        let quiet = Step {
            patch: None,
            change: None,
            remember: None,
        };
        assert_eq!(
            step(&seen(Found::AsRemembered, Some("a")), "a", "sso"),
            quiet
        );
        let rolled = step(
            &seen(Found::Read(Some(marks(Some("b"), None))), Some("b")),
            "a",
            "sso",
        );
        assert_eq!(rolled.patch, patch(&Rollout::Roll, "a", "sso"));
        assert_eq!(
            rolled.change,
            Some(Change::WorkloadRestarted {
                kind: kind(),
                name: name()
            })
        );
        assert_eq!(rolled.remember.as_deref(), Some("a"));
        let first = step(
            &seen(Found::Read(Some(marks(None, None))), None),
            "a",
            "sso",
        );
        assert_eq!(
            (first.change, first.remember.as_deref()),
            (None, Some("a")),
            "a baseline"
        );
        assert!(first.patch.is_some());

        let missing = step(&seen(Found::Read(None), None), "a", "sso");
        assert_eq!(
            missing,
            Step {
                patch: None,
                change: Some(Change::WorkloadMissing {
                    kind: kind(),
                    name: name()
                }),
                remember: Some("missing:a".into()),
            }
        );
        assert_eq!(
            step(&seen(Found::Read(None), Some("missing:a")), "a", "sso"),
            quiet,
            "said once"
        );
        let claimed = step(
            &seen(Found::Read(Some(marks(Some("b"), Some("other")))), None),
            "a",
            "sso",
        );
        assert_eq!(
            claimed.change,
            Some(Change::WorkloadClaimed {
                kind: kind(),
                name: name(),
                other: "other".into()
            })
        );
        assert_eq!(claimed.patch, None);
        let forbidden = step(&seen(Found::Forbidden, None), "a", "sso");
        assert_eq!(
            forbidden.change,
            Some(Change::WorkloadRestartForbidden {
                kind: kind(),
                name: name()
            })
        );
        assert_eq!(
            step(&seen(Found::Forbidden, Some("forbidden:a")), "a", "sso"),
            quiet
        );
        // A new content of the Secret is news again.
        assert!(
            step(&seen(Found::Forbidden, Some("forbidden:a")), "b", "sso")
                .change
                .is_some()
        );
    }

    #[test]
    fn a_workload_restarted_for_another_resource_is_left_alone() {
        // Two resources naming one workload would restart it in turn, for ever.
        let other = marks(Some("b"), Some("analytics-sso"));
        assert_eq!(
            rollout(Some(&other), "a", "om"),
            Rollout::Claimed("analytics-sso".into())
        );
        assert_eq!(
            patch(&Rollout::Claimed("analytics-sso".into()), "a", "om"),
            None
        );
    }
}
