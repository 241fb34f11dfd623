//! The integration tests, in one binary that builds the test doubles once:
//!
//! - [`emulator`]: the Keycloak emulator itself tells the truth (built from a model, never echoed);
//! - [`keycloak`], [`keycloak_side_effects`], [`keycloak_errors`]: the operator's Keycloak code
//!   over HTTP against the Admin API emulator;
//! - [`converged`]: a converged resource writes nothing, anywhere;
//! - [`requests`]: one reconcile against the stateful fake API server (every request in order);
//! - [`controller_loop`]: the real controller loop against the same fake API server;
//! - [`binary`]: the built binary, as the Deployment runs it;
//! - [`crd`]: the CRD, its CEL rules, validation and the documented examples;
//! - [`day2`]: rotation, restarts of workloads, a secret from a source, the issuer browsers see;
//! - [`fake_apiserver`]: the fake API server's claims about a real one, and (with the scenarios
//!   of `both_apiservers!`) a real API server, when configured;
//! - [`e2e`]: a real cluster and a real Keycloak, when configured.

mod support;

mod architecture;
#[cfg(unix)]
mod binary;
mod chart_values;
mod controller_loop;
mod converged;
mod crd;
mod day2;
mod differential;
mod docs;
mod e2e;
mod emulator;
mod fairness;
mod fake_apiserver;
mod finalizer;
mod keycloak;
mod keycloak_errors;
mod keycloak_side_effects;
#[cfg(unix)]
mod leader;
mod login;
mod observability;
#[cfg(unix)]
mod offline;
mod requests;
mod tenancy;
