//! Test harness, in three parts: `process` (spawning and watching servers), `client` (a
//! raw HTTP/1.1 client), `load` (keep-alive load that counts every failure).

#![allow(dead_code)]

mod client;
mod load;
mod process;

pub(crate) use client::*;
pub(crate) use load::*;
pub(crate) use nix::sys::signal::Signal;
pub(crate) use process::*;
