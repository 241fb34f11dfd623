//! Restarting workloads when the Secret's content changes (pure). OpenMetadata reads the
//! secret only at start, and its chart has no checksum annotation of its own.
//!
//! The workload's own metadata remembers the checksum it was last rolled (or first seen) for;
//! only a different checksum changes the pod template, so naming a running workload never
//! restarts it by itself.

use crate::names::{CHECKSUM_ANNOTATION, RESTARTED_FOR_ANNOTATION};

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
