//! A lease released on shutdown is taken at once.

use super::*;
use crate::support::has;

#[tokio::test]
async fn a_standby_takes_a_released_lease_at_once() {
    omkc::tls::install_crypto_provider();
    let api = ApiServer::start().await;
    api.put(crate::support::admin_credentials(NS));
    // A long lease: a standby that waited for the old expiry would wait up to 20 s.
    let lease = Duration::from_secs(20);
    let mut a = start_with(&api, "op-a", lease, &[]).await;
    eventually(&api, "op-a to lead", || async {
        (a.leading().await == Some(true)).then_some(())
    })
    .await;
    let b = start_with(&api, "op-b", lease, &[]).await;
    eventually(&api, "op-b to stand by", || async {
        (b.leading().await == Some(false) && b.ready().await).then_some(())
    })
    .await;
    a.signal("-TERM");
    let (clean, stderr) = a.ended().await;
    assert!(clean, "{stderr}");
    has(&stderr, "released the lease");
    let released = Instant::now();
    eventually(&api, "op-b to take over", || async {
        (b.leading().await == Some(true)).then_some(())
    })
    .await;
    let took = released.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "took over {took:?} after the release"
    );
    assert_eq!(holder(&api).as_deref(), Some("op-b"));
}
