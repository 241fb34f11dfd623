//! Test doubles shared by the integration tests.
#![allow(dead_code)]

pub mod apiserver;
pub mod emulator;
pub mod openapi;
