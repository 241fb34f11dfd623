//! Restarting workloads when the Secret's content changes (pure). OpenMetadata reads the
//! secret only at start, and its chart has no checksum annotation of its own.
//!
//! The workload's own metadata remembers the checksum it was last rolled (or first seen) for;
//! only a different checksum changes the pod template, so naming a running workload never
//! restarts it by itself.

use crate::names::CHECKSUM_ANNOTATION;

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
}

/// Decides from the workload's metadata annotation (`None` inside `Some`: no annotation yet).
pub fn rollout(found: Option<Option<&str>>, checksum: &str) -> Rollout {
    match found {
        None => Rollout::Missing,
        Some(None) => Rollout::Baseline,
        Some(Some(seen)) if seen == checksum => Rollout::Nothing,
        Some(Some(_)) => Rollout::Roll,
    }
}

/// The merge patch that carries out a decision, or `None` when there is nothing to write.
pub fn patch(decision: &Rollout, checksum: &str) -> Option<serde_json::Value> {
    let annotations = serde_json::json!({ CHECKSUM_ANNOTATION: checksum });
    match decision {
        Rollout::Missing | Rollout::Nothing => None,
        Rollout::Baseline => {
            Some(serde_json::json!({ "metadata": { "annotations": annotations } }))
        }
        Rollout::Roll => Some(serde_json::json!({
            "metadata": { "annotations": annotations },
            "spec": { "template": { "metadata": { "annotations": annotations } } },
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_changed_checksum_touches_the_pod_template() {
        assert_eq!(rollout(None, "a"), Rollout::Missing);
        assert_eq!(rollout(Some(None), "a"), Rollout::Baseline);
        assert_eq!(rollout(Some(Some("a")), "a"), Rollout::Nothing);
        assert_eq!(rollout(Some(Some("b")), "a"), Rollout::Roll);
        let baseline = patch(&Rollout::Baseline, "a").unwrap();
        assert!(baseline.get("spec").is_none(), "no restart on first sight");
        let roll = patch(&Rollout::Roll, "a").unwrap();
        assert_eq!(
            roll["spec"]["template"]["metadata"]["annotations"][CHECKSUM_ANNOTATION],
            "a"
        );
        assert_eq!(patch(&Rollout::Nothing, "a"), None);
        assert_eq!(patch(&Rollout::Missing, "a"), None);
    }
}
