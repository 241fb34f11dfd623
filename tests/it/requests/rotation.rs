//! An on-demand rotation (`omkc.dev/rotate`) reads the output Secret from the API server while
//! the rotation is asked and not yet recorded, and only then: a watch event still on its way
//! must not make a rotation run twice, and a rotation done costs no read at each resync.

use omkc::{
    names::{ROTATED_FOR_ANNOTATION, ROTATING_FOR_ANNOTATION},
    validate::ROTATE_ANNOTATION,
};

use super::*;

fn asking(obj: &mut OpenMetadataKeycloakClient, token: Option<&str>) {
    let annotations = obj
        .metadata
        .annotations
        .get_or_insert_with(Default::default);
    match token {
        Some(t) => annotations.insert(ROTATE_ANNOTATION.into(), t.into()),
        None => annotations.remove(ROTATE_ANNOTATION),
    };
}

/// What the API server holds of the resource and its output Secret, put in the caches.
fn refresh(api: &ApiServer, ctx: &Context) -> OpenMetadataKeycloakClient {
    let secret = api.get("v1/secrets", NS, "oidc-secrets").unwrap();
    ctx.output_secrets
        .insert(serde_json::from_value(secret).unwrap());
    serde_json::from_value(api.get(CRS, NS, "openmetadata").unwrap()).unwrap()
}

/// The setup, with no minimum time between two secrets: a rotation asked is made at once.
async fn without_a_gap(emu: &Emulator) -> (Arc<Context>, ApiServer) {
    let settings = Settings {
        min_rotation_interval: Duration::ZERO,
        ..Settings::default()
    };
    setup_with(&resource(&emu.base_url, finalized), true, settings).await
}

#[tokio::test]
async fn a_rotation_done_costs_no_read_whether_or_not_its_annotation_stays() {
    let emu = Emulator::start().await;
    let (ctx, api) = without_a_gap(&emu).await;
    let mut obj = converged(&emu, &ctx, &api).await;
    let before = emu.secret_of("data-sec", "openmetadata");
    asking(&mut obj, Some("t1"));
    api.put(serde_json::to_value(&obj).unwrap());
    reconcile(guard(&obj), ctx.clone()).await.unwrap();
    assert_ne!(emu.secret_of("data-sec", "openmetadata"), before, "rotated");
    let secret = api.get("v1/secrets", NS, "oidc-secrets").unwrap();
    assert_eq!(
        secret["metadata"]["annotations"][ROTATED_FOR_ANNOTATION],
        "t1"
    );

    for token in [Some("t1"), None] {
        let mut obj = refresh(&api, &ctx);
        asking(&mut obj, token);
        let from = api.requests().len();
        reconcile(guard(&obj), ctx.clone()).await.unwrap();
        assert_eq!(calls(&api, from), Vec::<String>::new(), "asking {token:?}");
    }
}

#[tokio::test]
async fn a_rotation_cut_off_after_keycloak_is_finished_once_though_the_watch_lags() {
    let emu = Emulator::start().await;
    let (ctx, api) = without_a_gap(&emu).await;
    let mut obj = converged(&emu, &ctx, &api).await;
    // A previous run marked the Secret and had Keycloak make a new secret, then stopped before
    // it wrote the Secret; the watch has not shown the mark yet.
    asking(&mut obj, Some("t1"));
    api.put(serde_json::to_value(&obj).unwrap());
    api.edit("v1/secrets", NS, "oidc-secrets", |s| {
        s["metadata"]["annotations"][ROTATING_FOR_ANNOTATION] = json!("t1")
    });
    let uuid = obj.status.as_ref().unwrap().client_uuid.clone().unwrap();
    admin_session(&emu)
        .regenerate_secret("data-sec", &uuid)
        .await
        .unwrap();
    let new = emu.secret_of("data-sec", "openmetadata").unwrap();

    reconcile(guard(&obj), ctx).await.unwrap();
    assert_eq!(
        emu.secret_of("data-sec", "openmetadata").unwrap(),
        new,
        "not rotated a second time"
    );
    let secret = api.get("v1/secrets", NS, "oidc-secrets").unwrap();
    assert_eq!(
        secret["metadata"]["annotations"][ROTATED_FOR_ANNOTATION],
        "t1"
    );
    assert_eq!(
        decode(&secret["data"]["openmetadata-oidc-client-secret"]),
        new
    );
}
