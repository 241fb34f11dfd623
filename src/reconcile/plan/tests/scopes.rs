//! The required default scopes a client lacks: added by the realm's ids, or refused.

use super::*;

#[test]
fn missing_scopes_are_added_by_the_realms_ids_and_an_absent_one_is_refused() {
    let obj = resource();
    let v = validate(&obj, INSTALLATION).unwrap();
    // The client has `email` as an optional scope: moved to the defaults, by id.
    let optional = patched(
        as_keycloak_reports(&v, "u-1"),
        serde_json::json!({
        "defaultClientScopes": ["web-origins", "acr", "profile", "roles", "basic"], "optionalClientScopes": ["email", "phone"]}),
    );
    let realm = ["phone", "email", "profile"].map(realm_scope);
    let planned = keycloak_side_in(&obj, &optional, &realm).unwrap();
    assert_eq!(
        planned.writes,
        [Write::AddScopes {
            uuid: "u-1".into(),
            scopes: vec![realm_scope("email")],
            from_optional: vec!["email-id".into()],
        }]
    );
    // The realm has no `email` scope: refused before any write, with its name.
    let refused = keycloak_side_in(&obj, &optional, &realm[2..]).unwrap_err();
    assert_eq!(
        refused,
        Error::from(KeycloakError::ScopeNotFound("email".into()))
    );
}
