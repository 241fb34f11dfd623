//! Every Keycloak request is counted by route template, method and status class.

use super::*;

#[tokio::test]
async fn an_update_is_counted_as_a_put_on_the_client_route() {
    let emu = Emulator::start().await;
    let (ctx, api) = setup(&resource(&emu.base_url, finalized), true).await;
    let mut obj = converged(&emu, &ctx, &api).await;
    obj.spec.openmetadata.url = "https://catalog.example.com".into();
    reconcile(guard(&obj), ctx.clone()).await.unwrap();
    assert!(
        emu.log().iter().any(|e| e.method == "PUT"),
        "the redirect URIs were updated"
    );
    let text = ctx.metrics.render();
    let counted = |method: &str| {
        text.lines().any(|l| {
            l == format!(
                r#"omkc_keycloak_requests_total{{route="/admin/realms/{{realm}}/clients/{{id}}",method="{method}",status="2xx"}} 1"#
            )
        })
    };
    assert!(counted("PUT"), "{text}");
    crate::observability::assert_bounded(&text);
}
